import {
  findResource,
  invokedFunctionId,
  namedResources,
  resourcesWithRole,
} from '../../lib/resource-names';
import { synthPipeline } from '../synth';

/**
 * The logical id of every function, queue, bucket, table and topic, as deployed. A
 * changed id replaces the resource (a replaced queue loses its messages, a replaced
 * table its data): a change here is a migration, never a rename.
 */
const DEPLOYED_LOGICAL_IDS = [
  'AWS::DynamoDB::Table CustomerTable627C24D6',
  'AWS::Lambda::Function ArchiveConsumerFunction363AA86A',
  'AWS::Lambda::Function AvatarsDeletionsFunction2456D37E',
  'AWS::Lambda::Function CustomerApiAvatarUploadFunctionFED2A1B0',
  'AWS::Lambda::Function CustomerApiFunction8035B279',
  'AWS::Lambda::Function MarketingConsumerFunction2B69FDCA',
  'AWS::Lambda::Function StreamPublisherFunction7F7A637A',
  'AWS::Lambda::Function WelcomeConsumerFunction2328871A',
  'AWS::S3::Bucket AssetsAccessLogs1515BAC6',
  'AWS::S3::Bucket AssetsBucket252B3DF7',
  'AWS::S3::Bucket MarketingContactsBucket1D5052B0',
  'AWS::S3::Bucket StreamPublisherFailureBucket89F5B033',
  'AWS::SNS::Topic CustomerEventsTopic0446D1A2',
  'AWS::SNS::Topic MonitoringAlarmTopicAF62D4F1',
  'AWS::SQS::Queue ArchiveConsumerDeadLetterQueueE1AE5C24',
  'AWS::SQS::Queue ArchiveConsumerQueue123AA7A8',
  'AWS::SQS::Queue ArchiveConsumerSubscriptionDeadLetterQueue012D460D',
  'AWS::SQS::Queue AvatarsDeletionsDeadLetterQueueB4DC03DB',
  'AWS::SQS::Queue AvatarsDeletionsQueueAA9E5765',
  'AWS::SQS::Queue AvatarsDeletionsSubscriptionDeadLetterQueue83444268',
  'AWS::SQS::Queue AvatarsUploadsDeadLetterQueue4C52D858',
  'AWS::SQS::Queue AvatarsUploadsQueue2E1557C3',
  'AWS::SQS::Queue MarketingConsumerDeadLetterQueue5550EA13',
  'AWS::SQS::Queue MarketingConsumerQueue570B9718',
  'AWS::SQS::Queue MarketingConsumerSubscriptionDeadLetterQueue9FFAC236',
  'AWS::SQS::Queue WelcomeConsumerDeadLetterQueue55A36810',
  'AWS::SQS::Queue WelcomeConsumerQueue2B8A1890',
  'AWS::SQS::Queue WelcomeConsumerSubscriptionDeadLetterQueueC8313616',
];

const STATEFUL_TYPES = [
  'AWS::DynamoDB::Table',
  'AWS::Lambda::Function',
  'AWS::S3::Bucket',
  'AWS::SNS::Topic',
  'AWS::SQS::Queue',
];

describe.each(['dev', 'prod'] as const)('resource names in CustomerPipeline-%s', (stage) => {
  let template: { Resources: Record<string, { Type: string; Properties?: Record<string, never> }> };
  beforeAll(() => {
    template = synthPipeline(stage).template.toJSON() as typeof template;
  });

  test('keeps the logical id of every function, queue, bucket, table and topic', () => {
    const ids = Object.entries(template.Resources)
      .filter(([, r]) => STATEFUL_TYPES.includes(r.Type))
      // Only dev empties its buckets with a custom resource when the stack goes; CDK's
      // notifications handler only runs at deploy time, and holds nothing.
      .filter(([id]) => !id.startsWith('CustomS3AutoDeleteObjects'))
      .filter(([id]) => !id.startsWith('BucketNotificationsHandler'))
      .map(([id, r]) => `${r.Type} ${id}`)
      .sort();
    expect(ids).toEqual(DEPLOYED_LOGICAL_IDS);
  });

  test('names each function of lambda/ by its folder, which is also its service name', () => {
    const functions = resourcesWithRole(template, 'function');
    expect([...functions.keys()].sort()).toEqual([
      'api',
      'archive',
      'avatar',
      'avatar-upload',
      'marketing',
      'stream-publisher',
      'welcome',
    ]);
    for (const [name, logicalId] of functions) {
      const environment = (
        template.Resources[logicalId]?.Properties as
          | { Environment?: { Variables?: Record<string, unknown> } }
          | undefined
      )?.Environment?.Variables;
      expect(environment?.POWERTOOLS_SERVICE_NAME).toBe(name);
    }
  });

  test.each(['welcome', 'archive', 'marketing', 'avatar'])(
    'names the %s consumer’s queue and both dead-letter queues after its function',
    (name) => {
      for (const role of [
        'queue',
        'dead-letter-queue',
        'subscription-dead-letter-queue',
      ] as const) {
        expect(template.Resources[findResource(template, name, role)]?.Type).toBe(
          'AWS::SQS::Queue',
        );
      }
    },
  );

  test('names the queue S3 notifies of avatar uploads, and its dead-letter queue', () => {
    expect(findResource(template, 'avatar-uploads', 'queue')).toBe('AvatarsUploadsQueue2E1557C3');
    expect(findResource(template, 'avatar-uploads', 'dead-letter-queue')).toBe(
      'AvatarsUploadsDeadLetterQueue4C52D858',
    );
  });

  test('names the table, the topic, the secret and the buckets the tools read', () => {
    expect(findResource(template, 'customers', 'table')).toBe('CustomerTable627C24D6');
    expect(findResource(template, 'customer-events', 'topic')).toBe('CustomerEventsTopic0446D1A2');
    expect(findResource(template, 'assets', 'bucket')).toBe('AssetsBucket252B3DF7');
    expect(findResource(template, 'marketing-contacts', 'bucket')).toBe(
      'MarketingContactsBucket1D5052B0',
    );
    expect(template.Resources[findResource(template, 'notification', 'secret')]?.Type).toBe(
      'AWS::SecretsManager::Secret',
    );
    expect(findResource(template, 'stream-publisher', 'failure-bucket')).toBe(
      'StreamPublisherFailureBucket89F5B033',
    );
  });

  test('tells the function every event source mapping and integration invokes, through its alias or not', () => {
    const { Resources } = template as unknown as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    const invoked = Object.values(Resources).flatMap((r) =>
      r.Type === 'AWS::Lambda::EventSourceMapping'
        ? [invokedFunctionId(Resources, r.Properties.FunctionName)]
        : r.Type === 'AWS::ApiGatewayV2::Integration'
          ? [invokedFunctionId(Resources, r.Properties.IntegrationUri)]
          : [],
    );
    expect(invoked).toHaveLength(9);
    const functions = resourcesWithRole(template, 'function');
    const name = (id: string | undefined) =>
      [...functions].find(([, logicalId]) => logicalId === id)?.[0];
    expect(invoked.map(name).sort()).toEqual(
      [
        'api',
        'archive',
        'avatar',
        'avatar',
        'avatar',
        'avatar-upload',
        'marketing',
        'stream-publisher',
        'welcome',
      ].sort(),
    );
  });

  test('gives no two resources the same name and role', () => {
    const keys = [...namedResources(template).values()].map((n) => `${n.role} ${n.name}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  test('says what it has when a name is unknown', () => {
    expect(() => findResource(template, 'stream', 'function')).toThrow(
      /no function named stream; it has: .*stream-publisher \(function\)/,
    );
  });
});

describe('invokedFunctionId', () => {
  const resources = {
    Fn: { Type: 'AWS::Lambda::Function', Properties: {} },
    FnVersion: { Type: 'AWS::Lambda::Version', Properties: { FunctionName: { Ref: 'Fn' } } },
    FnAlias: {
      Type: 'AWS::Lambda::Alias',
      Properties: { FunctionName: { Ref: 'Fn' }, Name: 'live' },
    },
    Queue: { Type: 'AWS::SQS::Queue', Properties: {} },
  };

  test.each([
    ['the function', { Ref: 'Fn' }],
    ['its ARN', { 'Fn::GetAtt': ['Fn', 'Arn'] }],
    ['its alias', { Ref: 'FnAlias' }],
    ['a version', { Ref: 'FnVersion' }],
    [
      "CDK's <name>:<alias> of an alias ARN",
      {
        'Fn::Join': [
          '',
          [{ 'Fn::Select': [6, { 'Fn::Split': [':', { Ref: 'FnAlias' }] }] }, ':live'],
        ],
      },
    ],
  ])('reads %s as the function', (_label, value) => {
    expect(invokedFunctionId(resources, value)).toBe('Fn');
  });

  test.each([
    ['a literal name', 'my-function'],
    ['something else', { Ref: 'Queue' }],
    ['a missing resource', { Ref: 'Gone' }],
  ])('reads %s as no function of the template', (_label, value) => {
    expect(invokedFunctionId(resources, value)).toBeUndefined();
  });
});
