import { AssetsBucket } from '../../lib/constructs/assets-bucket';
import { MarketingContacts } from '../../lib/constructs/marketing-contacts';
import { synthPipeline } from '../synth';
import {
  bucketPolicyStatements,
  constructsOfType,
  denyWithoutTls,
  logicalIdOf,
  ref,
  referencedId,
  resourceById,
  resourcesOfType,
} from '../template-queries';

interface LifecycleRuleJson {
  readonly Id?: string;
  readonly Status: string;
  readonly Prefix?: string;
  readonly ExpirationInDays?: number;
  readonly ExpirationDate?: string;
  readonly ExpiredObjectDeleteMarker?: boolean;
  readonly NoncurrentVersionExpiration?: { readonly NoncurrentDays: number };
}

describe.each([
  ['dev', 'Delete'],
  ['prod', 'Retain'],
] as const)('MarketingContacts (%s)', (stage, removal) => {
  let synthesized: ReturnType<typeof synthPipeline>;
  let ids: { contacts: string; assets: string; accessLogs: string };
  beforeAll(() => {
    synthesized = synthPipeline(stage);
    const [contacts] = constructsOfType(synthesized.stack, MarketingContacts);
    const [assets] = constructsOfType(synthesized.stack, AssetsBucket);
    if (!contacts || !assets) throw new Error('expected the contacts and the assets buckets');
    ids = {
      contacts: logicalIdOf(synthesized.stack, contacts.bucket),
      assets: logicalIdOf(synthesized.stack, assets.bucket),
      accessLogs: logicalIdOf(synthesized.stack, assets.accessLogsBucket),
    };
  });

  const resource = () => resourceById(synthesized.template, ids.contacts);
  const properties = () => resource().Properties;
  const rules = () =>
    (properties().LifecycleConfiguration as { Rules: LifecycleRuleJson[] }).Rules.filter(
      (rule) => rule.Status === 'Enabled',
    );

  test('is a bucket of its own, apart from the assets bucket', () => {
    expect(ids.contacts).not.toBe(ids.assets);
  });

  test('is versioned: the marketing function undoes its own write by VersionId', () => {
    expect(properties().VersioningConfiguration).toEqual({ Status: 'Enabled' });
  });

  test('forgets a replaced contact a day after, and removes a delete marker left alone', () => {
    expect(rules()).toEqual([
      expect.objectContaining({
        NoncurrentVersionExpiration: { NoncurrentDays: 1 },
        ExpiredObjectDeleteMarker: true,
      }),
    ]);
    const [rule] = rules();
    // Every contact: none of them is kept for its history.
    expect(rule?.Prefix ?? '').toBe('');
  });

  test('never expires a current contact: it stays while consent does', () => {
    for (const rule of rules()) {
      expect(rule.ExpirationInDays).toBeUndefined();
      expect(rule.ExpirationDate).toBeUndefined();
    }
  });

  test('blocks every kind of public access', () => {
    expect(properties().PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
  });

  test('is encrypted at rest with S3-managed keys', () => {
    expect(properties().BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [
        { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
      ],
    });
  });

  test('refuses every request that does not use TLS', () => {
    const statements = bucketPolicyStatements(synthesized.template, ids.contacts);
    expect(denyWithoutTls(statements, 's3:*')).toHaveLength(1);
  });

  test('writes server access logs to the access-logs bucket, under a prefix of its own', () => {
    expect(properties().LoggingConfiguration).toEqual({
      DestinationBucketName: ref(ids.accessLogs),
      LogFilePrefix: 'marketing-contacts/',
    });
  });

  test('takes no uploads from a browser (no CORS)', () => {
    expect(properties().CorsConfiguration).toBeUndefined();
  });

  test(`${stage === 'dev' ? 'is emptied and deleted with' : 'outlives'} the stack`, () => {
    expect(resource().DeletionPolicy).toBe(removal);
    expect(resource().UpdateReplacePolicy).toBe(removal);
    const autoDeletes = Object.values(
      resourcesOfType(synthesized.template, 'Custom::S3AutoDeleteObjects'),
    ).filter((r) => referencedId(r.Properties.BucketName) === ids.contacts);
    expect(autoDeletes).toHaveLength(stage === 'dev' ? 1 : 0);
  });

  test('is named by the stack output MarketingContactsBucketName, for the operations commands', () => {
    const outputs = synthesized.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.MarketingContactsBucketName?.Value).toEqual(ref(ids.contacts));
  });
});
