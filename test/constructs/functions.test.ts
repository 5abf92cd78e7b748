import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AssetsBucket } from '../../lib/constructs/assets-bucket';
import { Avatars } from '../../lib/constructs/avatars';
import { CustomerApi } from '../../lib/constructs/customer-api';
import { CustomerEvents } from '../../lib/constructs/customer-events';
import { CustomerTable } from '../../lib/constructs/customer-table';
import { EventConsumer } from '../../lib/constructs/event-consumer';
import { MarketingContacts } from '../../lib/constructs/marketing-contacts';
import { NotificationSecret } from '../../lib/constructs/notification-secret';
import { PipelineFunction } from '../../lib/constructs/pipeline-function';
import { StreamPublisher } from '../../lib/constructs/stream-publisher';
import { synthPipeline } from '../synth';
import {
  actionsWithout,
  allowedActionsOfFunction,
  allowStatementsOfFunction,
  allPolicyStatements,
  asList,
  constructsOfType,
  getAtt,
  LOGGING_AND_TRACING_ACTIONS,
  logicalIdOf,
  type PolicyStatementJson,
  ref,
  referencedId,
  resourceById,
  resourcesOfType,
  roleIdOfFunction,
  SQS_CONSUME_ACTIONS,
  statementsAllowing,
} from '../template-queries';

/** `nodejs22.x` → 22, `nodejs4.3` → 4.3; `undefined` for a name without a version. */
const nodeVersionOf = (runtimeName: string): number | undefined => {
  const match = /^nodejs(\d+)(?:\.(\d+))?/.exec(runtimeName);
  return match ? Number(`${match[1]}.${match[2] ?? 0}`) : undefined;
};

const newestNodeRuntime = (): string => {
  const versioned = lambda.Runtime.ALL.filter((r) => r.family === lambda.RuntimeFamily.NODEJS)
    .map((r) => ({ name: r.name, version: nodeVersionOf(r.name) }))
    .filter((r): r is { name: string; version: number } => r.version !== undefined)
    .sort((a, b) => b.version - a.version);
  const [newest] = versioned;
  if (!newest) throw new Error('no Node.js runtime in lambda.Runtime.ALL');
  return newest.name;
};

/** `arn-of-bucket/<keys>`, as a grant on object keys renders it. */
const objectsArn = (bucketId: string, keys: string) => ({
  'Fn::Join': ['', [getAtt(bucketId, 'Arn'), `/${keys}`]],
});

/** An action that grants more than its name: a wildcard, or a broad DynamoDB/S3 action. */
const isBroad = (action: string): boolean =>
  action.endsWith('*') || ['dynamodb:Scan', 'dynamodb:BatchWriteItem'].includes(action);

describe.each([
  ['dev', 14],
  ['prod', 90],
] as const)('PipelineFunction (%s)', (stage, retentionDays) => {
  let synthesized: ReturnType<typeof synthPipeline>;
  let functionIds: string[];
  let ids: {
    api: string;
    avatarUpload: string;
    avatar: string;
    publisher: string;
    welcome: string;
    archive: string;
    marketing: string;
    table: string;
    bucket: string;
    contacts: string;
    topic: string;
    eventsKey: string;
    secret: string;
    failureBucket: string;
    queues: Record<'welcome' | 'archive' | 'marketing' | 'avatar' | 'avatarUploads', string>;
  };
  beforeAll(() => {
    synthesized = synthPipeline(stage);
    const { stack } = synthesized;
    const id = (construct: Parameters<typeof logicalIdOf>[1]) => logicalIdOf(stack, construct);
    functionIds = constructsOfType(stack, PipelineFunction).map(id);
    const [api] = constructsOfType(stack, CustomerApi);
    const [publisher] = constructsOfType(stack, StreamPublisher);
    const [table] = constructsOfType(stack, CustomerTable);
    const [assets] = constructsOfType(stack, AssetsBucket);
    const [contacts] = constructsOfType(stack, MarketingContacts);
    const [events] = constructsOfType(stack, CustomerEvents);
    const [secret] = constructsOfType(stack, NotificationSecret);
    const [avatars] = constructsOfType(stack, Avatars);
    const consumer = (name: string) => {
      const found = constructsOfType(stack, EventConsumer).find((c) => c.node.id === name);
      if (!found) throw new Error(`expected ${name}`);
      return found;
    };
    if (!api || !publisher || !table || !assets || !contacts || !events || !secret || !avatars) {
      throw new Error('expected every construct of the pipeline');
    }
    const [welcome, archive, marketing] = [
      consumer('WelcomeConsumer'),
      consumer('ArchiveConsumer'),
      consumer('MarketingConsumer'),
    ];
    ids = {
      api: id(api.function),
      avatarUpload: id(api.avatarUploadFunction),
      avatar: id(avatars.function),
      publisher: id(publisher.function),
      welcome: id(welcome.function),
      archive: id(archive.function),
      marketing: id(marketing.function),
      table: id(table.table),
      bucket: id(assets.bucket),
      contacts: id(contacts.bucket),
      topic: id(events.topic),
      eventsKey: id(events.key),
      secret: id(secret.secret),
      failureBucket: id(publisher.failureBucket),
      queues: {
        welcome: id(welcome.queue),
        archive: id(archive.queue),
        marketing: id(marketing.queue),
        avatar: id(avatars.deletions.queue),
        avatarUploads: id(avatars.uploadsQueue),
      },
    };
  });

  const template = () => synthesized.template;
  const functionProperties = (functionId: string) =>
    resourceById(template(), functionId).Properties;
  /** What a statement granting `action` to `functionId` covers: resources and conditions. */
  const grantsOf = (functionId: string, action: string) =>
    statementsAllowing(template(), functionId, action).map(({ Resource, Condition }) => ({
      Resource,
      Condition,
    }));
  /** The buckets (logical ids) that any of a function's S3 statements names. */
  const bucketsReachedBy = (functionId: string): string[] => {
    const buckets = Object.keys(resourcesOfType(template(), 'AWS::S3::Bucket'));
    const s3Statements = allowStatementsOfFunction(template(), functionId).filter((s) =>
      asList(s.Action).some((action) => action.startsWith('s3:')),
    );
    return buckets
      .filter((bucket) =>
        s3Statements.some((s) => JSON.stringify(s.Resource).includes(`"${bucket}"`)),
      )
      .sort();
  };

  describe('shared defaults', () => {
    test('there are seven pipeline functions', () => {
      expect(functionIds).toHaveLength(7);
    });

    test('runs on nodejs24.x, the newest Node.js runtime CDK knows', () => {
      expect(newestNodeRuntime()).toBe('nodejs24.x');
      for (const functionId of functionIds) {
        expect({ functionId, runtime: functionProperties(functionId).Runtime }).toEqual({
          functionId,
          runtime: newestNodeRuntime(),
        });
      }
    });

    test('runs on arm64, traced by X-Ray', () => {
      for (const functionId of functionIds) {
        expect({ functionId, ...functionProperties(functionId) }).toEqual(
          expect.objectContaining({
            functionId,
            Architectures: ['arm64'],
            TracingConfig: { Mode: 'Active' },
          }),
        );
      }
    });

    test(`logs to its own log group, kept ${retentionDays} days`, () => {
      const logGroups = functionIds.map((functionId) => {
        const { LoggingConfig } = functionProperties(functionId) as {
          LoggingConfig?: { LogGroup?: unknown };
        };
        const logGroupId = referencedId(LoggingConfig?.LogGroup) ?? `none for ${functionId}`;
        expect(LoggingConfig?.LogGroup).toEqual(ref(logGroupId));
        const logGroup = resourceById(template(), logGroupId);
        expect(logGroup.Type).toBe('AWS::Logs::LogGroup');
        expect(logGroup.Properties.RetentionInDays).toBe(retentionDays);
        return logGroupId;
      });
      expect(new Set(logGroups).size).toBe(functionIds.length);
    });

    test('has an explicit memory size and timeout', () => {
      for (const functionId of functionIds) {
        const { MemorySize, Timeout } = functionProperties(functionId);
        expect({ functionId, MemorySize, Timeout }).toEqual({
          functionId,
          MemorySize: expect.any(Number),
          Timeout: expect.any(Number),
        });
      }
    });

    test('has its own role with no managed policy (no account-wide log permissions)', () => {
      const roleIds = functionIds.map((functionId) => roleIdOfFunction(template(), functionId));
      expect(new Set(roleIds).size).toBe(functionIds.length);
      const managedPolicies = Object.values(resourcesOfType(template(), 'AWS::IAM::ManagedPolicy'));
      for (const roleId of roleIds) {
        const { ManagedPolicyArns, Policies } = resourceById(template(), roleId).Properties;
        expect({ roleId, ManagedPolicyArns, Policies }).toEqual({ roleId });
        const attached = managedPolicies.filter((p) =>
          JSON.stringify(p.Properties.Roles ?? []).includes(`"${roleId}"`),
        );
        expect(attached).toEqual([]);
      }
    });

    test('may write only to its own log group, and send traces', () => {
      for (const functionId of functionIds) {
        const { LoggingConfig } = functionProperties(functionId) as {
          LoggingConfig: { LogGroup: unknown };
        };
        const logGroupId = referencedId(LoggingConfig.LogGroup) ?? '';
        const observability = allowedActionsOfFunction(template(), functionId).filter((a) =>
          LOGGING_AND_TRACING_ACTIONS.test(a),
        );
        expect({ functionId, observability }).toEqual({
          functionId,
          observability: [
            'logs:CreateLogStream',
            'logs:PutLogEvents',
            'xray:PutTelemetryRecords',
            'xray:PutTraceSegments',
          ],
        });
        for (const { Resource } of grantsOf(functionId, 'logs:PutLogEvents')) {
          expect(asList(Resource)).toContainEqual(getAtt(logGroupId, 'Arn'));
          expect(JSON.stringify(Resource)).not.toContain('*');
        }
      }
    });
  });

  describe('least privilege', () => {
    test('no policy allows Scan, BatchWriteItem or a wildcard action, but on the events key', () => {
      const broad = allPolicyStatements(template())
        .filter(({ statement }) => statement.Effect === 'Allow')
        .flatMap(({ holder, statement }) =>
          asList(statement.Action)
            .filter(isBroad)
            .map((action) => ({ holder, action, statement })),
        )
        .filter(({ holder, action, statement }) => !isAcknowledged(holder, action, statement));
      expect(broad).toEqual([]);
    });

    /**
     * The broad grants the template may hold: publishing to the encrypted topic
     * (GenerateDataKey* on its key only), and resource policies that are not grants
     * to our functions: a key policy's account-root administration statement, the
     * alarm key's grant to CloudWatch, and CDK's S3 auto-delete helper's bucket access.
     */
    const isAcknowledged = (
      holder: string,
      action: string,
      statement: PolicyStatementJson,
    ): boolean => {
      const holderType = resourceById(template(), holder).Type;
      const principal = JSON.stringify(statement.Principal);
      if (holderType === 'AWS::IAM::Policy') {
        return (
          action === 'kms:GenerateDataKey*' &&
          JSON.stringify(statement.Resource) === JSON.stringify(getAtt(ids.eventsKey, 'Arn'))
        );
      }
      if (holderType === 'AWS::KMS::Key') {
        return (
          (action === 'kms:*' &&
            principal === JSON.stringify({ AWS: 'arn:aws:iam::123456789012:root' })) ||
          (action === 'kms:GenerateDataKey*' &&
            principal === JSON.stringify({ Service: 'cloudwatch.amazonaws.com' }))
        );
      }
      if (holderType === 'AWS::S3::BucketPolicy') {
        const helperRole = Object.keys(resourcesOfType(template(), 'AWS::IAM::Role')).find((r) =>
          r.startsWith('CustomS3AutoDeleteObjectsCustomResourceProviderRole'),
        );
        return (
          helperRole !== undefined &&
          principal === JSON.stringify({ AWS: getAtt(helperRole, 'Arn') })
        );
      }
      return false;
    };

    test('the API may read, conditionally write and delete items, never query them, and nothing on S3', () => {
      const actions = allowedActionsOfFunction(template(), ids.api);
      // Its transactions check conditions on the items they write: no ConditionCheck item.
      expect(actionsWithout(actions, LOGGING_AND_TRACING_ACTIONS)).toEqual([
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
      ]);
      expect(actions.filter((action) => action.startsWith('s3:'))).toEqual([]);
      expect(grantsOf(ids.api, 'dynamodb:GetItem')).toEqual([
        { Resource: getAtt(ids.table, 'Arn') },
      ]);
    });

    test('the avatar upload function may read a customer and sign uploads under avatar-uploads/ only', () => {
      expect(
        actionsWithout(
          allowedActionsOfFunction(template(), ids.avatarUpload),
          LOGGING_AND_TRACING_ACTIONS,
        ),
      ).toEqual(['dynamodb:GetItem', 's3:PutObject']);
      expect(grantsOf(ids.avatarUpload, 'dynamodb:GetItem')).toEqual([
        { Resource: getAtt(ids.table, 'Arn') },
      ]);
      expect(grantsOf(ids.avatarUpload, 's3:PutObject')).toEqual([
        { Resource: objectsArn(ids.bucket, 'avatar-uploads/*') },
      ]);
    });

    test('the avatar function reads and deletes uploads by version, writes and erases avatars/, lists only those versions, and updates the profile', () => {
      expect(
        actionsWithout(
          allowedActionsOfFunction(template(), ids.avatar),
          LOGGING_AND_TRACING_ACTIONS,
          SQS_CONSUME_ACTIONS,
        ),
      ).toEqual([
        'dynamodb:GetItem',
        'dynamodb:UpdateItem',
        's3:DeleteObject',
        's3:DeleteObjectVersion',
        's3:GetObjectVersion',
        's3:ListBucketVersions',
        's3:PutObject',
      ]);
      for (const action of ['dynamodb:GetItem', 'dynamodb:UpdateItem']) {
        expect(grantsOf(ids.avatar, action)).toEqual([{ Resource: getAtt(ids.table, 'Arn') }]);
      }
      // Its own writes go under avatars/ only: never where the upload notification looks.
      expect(grantsOf(ids.avatar, 's3:PutObject')).toEqual([
        { Resource: objectsArn(ids.bucket, 'avatars/*') },
      ]);
      for (const action of ['s3:GetObjectVersion', 's3:DeleteObject', 's3:DeleteObjectVersion']) {
        expect(grantsOf(ids.avatar, action)).toEqual([
          { Resource: objectsArn(ids.bucket, 'avatar-uploads/*') },
          { Resource: objectsArn(ids.bucket, 'avatars/*') },
        ]);
      }
      expect(grantsOf(ids.avatar, 's3:ListBucketVersions')).toEqual([
        {
          Resource: getAtt(ids.bucket, 'Arn'),
          Condition: { StringLike: { 's3:prefix': ['avatar-uploads/*', 'avatars/*'] } },
        },
      ]);
      // No plain s3:GetObject: every read names a version.
      expect(grantsOf(ids.avatar, 's3:GetObject')).toEqual([]);
    });

    test('the publisher may read the stream, publish encrypted events and write to its failure bucket', () => {
      expect(
        actionsWithout(
          allowedActionsOfFunction(template(), ids.publisher),
          LOGGING_AND_TRACING_ACTIONS,
        ),
      ).toEqual([
        'dynamodb:DescribeStream',
        'dynamodb:GetRecords',
        'dynamodb:GetShardIterator',
        'dynamodb:ListStreams',
        'kms:Decrypt',
        'kms:GenerateDataKey*',
        's3:ListBucket',
        's3:PutObject',
        'sns:Publish',
      ]);
      expect(grantsOf(ids.publisher, 'dynamodb:GetRecords')).toEqual([
        { Resource: getAtt(ids.table, 'StreamArn') },
      ]);
      expect(grantsOf(ids.publisher, 'sns:Publish')).toEqual([{ Resource: ref(ids.topic) }]);
      expect(grantsOf(ids.publisher, 'kms:GenerateDataKey*')).toEqual([
        { Resource: getAtt(ids.eventsKey, 'Arn') },
      ]);
    });

    test('the publisher writes, in its own account only, where Lambda and it keep failures', () => {
      // Lambda's on-failure records (aws/lambda/) and the ones the function writes itself.
      const inOwnAccount = { StringEquals: { 's3:ResourceAccount': '123456789012' } };
      expect(grantsOf(ids.publisher, 's3:PutObject')).toEqual([
        {
          Resource: [
            objectsArn(ids.failureBucket, 'aws/lambda/*'),
            objectsArn(ids.failureBucket, 'unpublishable/*'),
          ],
          Condition: inOwnAccount,
        },
      ]);
      // AWS requires ListBucket of an S3 on-failure destination.
      expect(grantsOf(ids.publisher, 's3:ListBucket')).toEqual([
        { Resource: getAtt(ids.failureBucket, 'Arn') },
      ]);
    });

    test.each(['welcome', 'archive', 'marketing'] as const)(
      'the %s consumer may drain its own queue, and only it',
      (name) => {
        const functionId = ids[name];
        for (const action of SQS_CONSUME_ACTIONS) {
          expect({ action, grants: grantsOf(functionId, action) }).toEqual({
            action,
            grants: [{ Resource: getAtt(ids.queues[name], 'Arn') }],
          });
        }
      },
    );

    test('welcome may claim and complete its record, and read the provider key', () => {
      expect(
        actionsWithout(
          allowedActionsOfFunction(template(), ids.welcome),
          LOGGING_AND_TRACING_ACTIONS,
          SQS_CONSUME_ACTIONS,
        ),
      ).toEqual([
        'dynamodb:ConditionCheckItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'secretsmanager:GetSecretValue',
      ]);
      expect(grantsOf(ids.welcome, 'dynamodb:PutItem')).toEqual([
        { Resource: getAtt(ids.table, 'Arn') },
      ]);
      expect(grantsOf(ids.welcome, 'secretsmanager:GetSecretValue')).toEqual([
        { Resource: ref(ids.secret) },
      ]);
    });

    test('archive may add versions under customers/ only, never delete one, and touches no table', () => {
      expect(
        actionsWithout(
          allowedActionsOfFunction(template(), ids.archive),
          LOGGING_AND_TRACING_ACTIONS,
          SQS_CONSUME_ACTIONS,
        ),
      ).toEqual(['s3:GetObject', 's3:ListBucket', 's3:PutObject']);
      for (const action of ['s3:GetObject', 's3:PutObject']) {
        expect(grantsOf(ids.archive, action)).toEqual([
          { Resource: objectsArn(ids.bucket, 'customers/*') },
        ]);
      }
      expect(grantsOf(ids.archive, 's3:ListBucket')).toEqual([
        expect.objectContaining({ Resource: getAtt(ids.bucket, 'Arn') }),
      ]);
    });

    test('archive can neither read nor list any bucket marketing keeps contacts in', () => {
      const contactBuckets = bucketsReachedBy(ids.marketing);
      expect(contactBuckets).toHaveLength(1);
      expect(bucketsReachedBy(ids.archive).filter((b) => contactBuckets.includes(b))).toEqual([]);
      expect(bucketsReachedBy(ids.archive)).toEqual([ids.bucket]);
      const statements = JSON.stringify(allowStatementsOfFunction(template(), ids.archive));
      expect(statements).not.toContain(`"${ids.contacts}"`);
    });

    test('no function but marketing names the contacts bucket in its policy', () => {
      const reaching = functionIds.filter((functionId) =>
        JSON.stringify(allowStatementsOfFunction(template(), functionId)).includes(
          `"${ids.contacts}"`,
        ),
      );
      expect(reaching).toEqual([ids.marketing]);
    });

    test('marketing may read consent and the profile, record consent, and write and delete contacts in the contacts bucket only', () => {
      expect(
        actionsWithout(
          allowedActionsOfFunction(template(), ids.marketing),
          LOGGING_AND_TRACING_ACTIONS,
          SQS_CONSUME_ACTIONS,
        ),
      ).toEqual([
        'dynamodb:BatchGetItem',
        'dynamodb:ConditionCheckItem',
        'dynamodb:PutItem',
        's3:DeleteObject',
        's3:DeleteObjectVersion',
        's3:ListBucketVersions',
        's3:PutObject',
      ]);
      expect(grantsOf(ids.marketing, 'dynamodb:BatchGetItem')).toEqual([
        { Resource: getAtt(ids.table, 'Arn') },
      ]);
      // DeleteObjects needs DeleteObject for every key, and DeleteObjectVersion for a VersionId.
      for (const action of ['s3:PutObject', 's3:DeleteObject', 's3:DeleteObjectVersion']) {
        expect(grantsOf(ids.marketing, action)).toEqual([
          { Resource: objectsArn(ids.contacts, 'contacts/*') },
        ]);
      }
      expect(grantsOf(ids.marketing, 's3:ListBucketVersions')).toEqual([
        {
          Resource: getAtt(ids.contacts, 'Arn'),
          Condition: { StringLike: { 's3:prefix': 'contacts/*' } },
        },
      ]);
      expect(bucketsReachedBy(ids.marketing)).toEqual([ids.contacts]);
    });

    test('marketing is told the contacts bucket, and nothing of the assets bucket', () => {
      const { Environment } = functionProperties(ids.marketing) as {
        Environment: { Variables: Record<string, unknown> };
      };
      expect(Environment.Variables).toMatchObject({ CONTACTS_BUCKET_NAME: ref(ids.contacts) });
      expect(JSON.stringify(Environment.Variables)).not.toContain(`"${ids.bucket}"`);
    });
  });
});
