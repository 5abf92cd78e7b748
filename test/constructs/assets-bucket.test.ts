import { AssetsBucket } from '../../lib/constructs/assets-bucket';
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
  readonly NoncurrentVersionExpiration?: { readonly NoncurrentDays: number };
  readonly NoncurrentVersionExpirationInDays?: number;
}

/** Whether a lifecycle rule deletes object versions (current or noncurrent). */
const expiresVersions = (rule: LifecycleRuleJson): boolean =>
  rule.ExpirationInDays !== undefined ||
  rule.ExpirationDate !== undefined ||
  rule.NoncurrentVersionExpiration !== undefined ||
  rule.NoncurrentVersionExpirationInDays !== undefined;

describe.each([
  ['dev', { noncurrentDays: 7, origins: ['http://localhost:3000'], removal: 'Delete' }],
  ['prod', { noncurrentDays: 30, origins: ['https://app.example.com'], removal: 'Retain' }],
] as const)('AssetsBucket (%s)', (stage, expected) => {
  let synthesized: ReturnType<typeof synthPipeline>;
  let ids: { bucket: string; accessLogs: string };
  beforeAll(() => {
    synthesized = synthPipeline(stage);
    const [assets] = constructsOfType(synthesized.stack, AssetsBucket);
    if (!assets) throw new Error('expected the assets bucket');
    ids = {
      bucket: logicalIdOf(synthesized.stack, assets.bucket),
      accessLogs: logicalIdOf(synthesized.stack, assets.accessLogsBucket),
    };
  });

  const bucket = () => resourceById(synthesized.template, ids.bucket).Properties;
  const lifecycleRules = () =>
    (bucket().LifecycleConfiguration as { Rules: LifecycleRuleJson[] }).Rules;

  test('keeps every version of every object', () => {
    expect(bucket().VersioningConfiguration).toEqual({ Status: 'Enabled' });
  });

  test('expires replaced avatars after the stage’s noncurrent-version days', () => {
    expect(lifecycleRules()).toContainEqual(
      expect.objectContaining({
        Status: 'Enabled',
        Prefix: 'avatars/',
        NoncurrentVersionExpiration: { NoncurrentDays: expected.noncurrentDays },
      }),
    );
  });

  test('expires no version outside the avatars’ prefixes: the customer archive keeps its history', () => {
    const expiring = lifecycleRules().filter(expiresVersions);
    expect(expiring.length).toBeGreaterThan(0);
    for (const rule of expiring) expect(rule.Prefix ?? '').toMatch(/^(avatars|avatar-uploads)\//);
  });

  test('expires what an upload leaves under avatar-uploads/ after a day, current and replaced', () => {
    expect(lifecycleRules()).toContainEqual(
      expect.objectContaining({
        Status: 'Enabled',
        Prefix: 'avatar-uploads/',
        ExpirationInDays: 1,
        NoncurrentVersionExpiration: { NoncurrentDays: 1 },
      }),
    );
  });

  test('lets only the stage’s origins POST through presigned forms (CORS), and nothing else', () => {
    expect(bucket().CorsConfiguration).toEqual({
      CorsRules: [
        expect.objectContaining({
          AllowedMethods: ['POST'],
          AllowedOrigins: [...expected.origins],
        }),
      ],
    });
  });

  test('writes server access logs to the access-logs bucket', () => {
    expect(bucket().LoggingConfiguration).toEqual(
      expect.objectContaining({ DestinationBucketName: ref(ids.accessLogs) }),
    );
  });

  describe.each([
    ['assets', 'bucket'],
    ['access-logs', 'accessLogs'],
  ] as const)('the %s bucket', (_label, which) => {
    const properties = () => resourceById(synthesized.template, ids[which]).Properties;

    test('blocks every kind of public access', () => {
      expect(properties().PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
    });

    test('is encrypted at rest', () => {
      expect(properties().BucketEncryption).toEqual({
        ServerSideEncryptionConfiguration: [
          expect.objectContaining({ ServerSideEncryptionByDefault: expect.anything() }),
        ],
      });
    });

    test('refuses every request that does not use TLS', () => {
      const statements = bucketPolicyStatements(synthesized.template, ids[which]);
      expect(denyWithoutTls(statements, 's3:*')).toHaveLength(1);
    });

    test(`${stage === 'dev' ? 'is emptied and deleted with' : 'outlives'} the stack`, () => {
      const resource = resourceById(synthesized.template, ids[which]);
      expect(resource.DeletionPolicy).toBe(expected.removal);
      expect(resource.UpdateReplacePolicy).toBe(expected.removal);
      const autoDeletes = Object.values(
        resourcesOfType(synthesized.template, 'Custom::S3AutoDeleteObjects'),
      ).filter((r) => referencedId(r.Properties.BucketName) === ids[which]);
      expect(autoDeletes).toHaveLength(stage === 'dev' ? 1 : 0);
    });
  });
});
