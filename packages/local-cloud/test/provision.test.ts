import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  GetBucketLifecycleConfigurationCommand,
  GetBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  GetSubscriptionAttributesCommand,
  GetTopicAttributesCommand,
  PublishCommand,
  SNSClient,
} from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { readStack } from '../src/assembly';
import type { CfnResource, CfnTemplate } from '../src/model';
import { type RunningMoto, startMoto } from '../src/moto';
import { type AwsClients, creationOrder, type ProvisionResult, provision } from '../src/provision';
import { emulatorClientConfig } from '../src/state';

jest.setTimeout(60_000);

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const getAtt = (id: string, attribute: string) => ({ 'Fn::GetAtt': [id, attribute] });

/** The stack's kinds of resources, small, wired the way the synthesized template wires them. */
const TEMPLATE: CfnTemplate = {
  Resources: {
    Queue: {
      Type: 'AWS::SQS::Queue',
      Properties: {
        VisibilityTimeout: 181,
        RedrivePolicy: { deadLetterTargetArn: getAtt('QueueDlq', 'Arn'), maxReceiveCount: 3 },
        SqsManagedSseEnabled: true,
      },
    },
    QueueDlq: { Type: 'AWS::SQS::Queue', Properties: { MessageRetentionPeriod: 1209600 } },
    SubscriptionDlq: { Type: 'AWS::SQS::Queue', Properties: {} },
    Key: { Type: 'AWS::KMS::Key', Properties: { EnableKeyRotation: true } },
    // A FIFO topic and queue, as CDK renders them with per-message-group throughput.
    FifoTopic: {
      Type: 'AWS::SNS::Topic',
      Properties: {
        TopicName: 'events-topic.fifo',
        FifoTopic: true,
        ContentBasedDeduplication: false,
        FifoThroughputScope: 'MessageGroup',
      },
    },
    FifoQueue: {
      Type: 'AWS::SQS::Queue',
      Properties: {
        FifoQueue: true,
        DeduplicationScope: 'messageGroup',
        FifoThroughputLimit: 'perMessageGroupId',
        ContentBasedDeduplication: false,
      },
    },
    FifoSubscription: {
      Type: 'AWS::SNS::Subscription',
      Properties: {
        Protocol: 'sqs',
        TopicArn: { Ref: 'FifoTopic' },
        Endpoint: getAtt('FifoQueue', 'Arn'),
        RawMessageDelivery: true,
      },
    },
    Topic: { Type: 'AWS::SNS::Topic', Properties: { KmsMasterKeyId: getAtt('Key', 'Arn') } },
    Subscription: {
      Type: 'AWS::SNS::Subscription',
      Properties: {
        Protocol: 'sqs',
        TopicArn: { Ref: 'Topic' },
        Endpoint: getAtt('Queue', 'Arn'),
        RawMessageDelivery: true,
        FilterPolicyScope: 'MessageBody',
        FilterPolicy: { marketingConsent: ['granted', 'revoked'] },
        RedrivePolicy: { deadLetterTargetArn: getAtt('SubscriptionDlq', 'Arn') },
      },
    },
    Table: {
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      },
    },
    Bucket: {
      Type: 'AWS::S3::Bucket',
      Properties: { VersioningConfiguration: { Status: 'Enabled' } },
    },
    // A second versioned bucket, as the marketing contacts have: replaced versions and
    // lone delete markers expire.
    ContactsBucket: {
      Type: 'AWS::S3::Bucket',
      Properties: {
        VersioningConfiguration: { Status: 'Enabled' },
        LifecycleConfiguration: {
          Rules: [
            {
              Id: 'ForgetReplacedContacts',
              Status: 'Enabled',
              NoncurrentVersionExpiration: { NoncurrentDays: 1 },
              ExpiredObjectDeleteMarker: true,
            },
          ],
        },
      },
    },
    Secret: {
      Type: 'AWS::SecretsManager::Secret',
      Properties: {
        // References to resources nothing emulates must still resolve.
        Description: {
          'Fn::Join': [' ', ['made by', { Ref: 'Invented' }, 'for', getAtt('Role', 'Arn')]],
        },
        GenerateSecretString: { PasswordLength: 48, ExcludePunctuation: true },
      },
    },
    Role: {
      Type: 'AWS::IAM::Role',
      Properties: { AssumeRolePolicyDocument: { Version: '2012-10-17', Statement: [] } },
    },
    Alarm: {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: { Dimensions: [{ Name: 'QueueName', Value: getAtt('QueueDlq', 'QueueName') }] },
    },
    Invented: { Type: 'AWS::Foo::Bar', Properties: {} },
    Function: {
      Type: 'AWS::Lambda::Function',
      Properties: { FunctionName: 'named-function', Role: getAtt('Role', 'Arn') },
    },
  },
};

let moto: RunningMoto;
let clients: AwsClients;
let runs = 0;

const run = (template: CfnTemplate = TEMPLATE): Promise<ProvisionResult> => {
  runs += 1;
  return provision({
    template,
    // Physical names derive from the stack name: a new one per run keeps runs apart.
    stackName: `Prov${runs}`,
    accountId: ACCOUNT,
    region: REGION,
    clients,
    timeScale: 0.02,
  });
};

const resource = (result: ProvisionResult, id: string) => {
  const found = result.resources[id];
  if (found === undefined) throw new Error(`${id} was not provisioned`);
  return found;
};

beforeAll(async () => {
  moto = await startMoto();
  const config = emulatorClientConfig({ endpoint: moto.endpoint, region: REGION });
  clients = {
    dynamodb: new DynamoDBClient(config),
    s3: new S3Client(config),
    secretsManager: new SecretsManagerClient(config),
    sns: new SNSClient(config),
    sqs: new SQSClient(config),
  };
});

afterAll(async () => {
  if (clients) for (const client of Object.values(clients)) client.destroy();
  await moto?.stop();
});

describe('creationOrder', () => {
  const template = (resources: Record<string, Omit<CfnResource, 'Type'>>): CfnTemplate => ({
    Resources: Object.fromEntries(
      Object.entries(resources).map(([id, r]) => [id, { Type: 'AWS::SQS::Queue', ...r }]),
    ),
  });
  const expectBefore = (order: string[], first: string, second: string) =>
    expect(order.indexOf(first)).toBeLessThan(order.indexOf(second));

  it('puts a resource after the ones it references with Ref and Fn::GetAtt', () => {
    const order = creationOrder(
      template({
        A: { Properties: { X: { Ref: 'C' }, Y: getAtt('B', 'Arn') } },
        B: { Properties: { Z: { Ref: 'C' } } },
        C: {},
      }),
    );

    expect(order).toEqual(['C', 'B', 'A']);
  });

  it('follows DependsOn, as a string or a list, and Fn::Sub placeholders', () => {
    const order = creationOrder(
      template({
        A: { DependsOn: 'D' },
        B: { DependsOn: ['A', 'C'] },
        // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's Fn::Sub syntax.
        C: { Properties: { Name: { 'Fn::Sub': '${D.QueueName}-${AWS::Region}' } } },
        D: {},
      }),
    );

    expectBefore(order, 'D', 'A');
    expectBefore(order, 'A', 'B');
    expectBefore(order, 'C', 'B');
    expectBefore(order, 'D', 'C');
    expect([...order].sort()).toEqual(['A', 'B', 'C', 'D']);
  });

  it('ignores pseudo parameters, parameters and self references', () => {
    const order = creationOrder({
      Parameters: { Stage: { Default: 'dev' } },
      Resources: {
        A: {
          Type: 'AWS::SQS::Queue',
          Properties: { X: { Ref: 'AWS::StackName' }, Y: { Ref: 'Stage' }, Z: { Ref: 'A' } },
        },
      },
    });

    expect(order).toEqual(['A']);
  });

  it('refuses a cycle, naming the resources in it', () => {
    const cyclic = template({
      A: { Properties: { X: { Ref: 'B' } } },
      B: { Properties: { X: getAtt('C', 'Arn') } },
      C: { DependsOn: 'A' },
    });

    expect(() => creationOrder(cyclic)).toThrow(/circular dependency: A → B → C → A/);
  });
});

describe('provision against moto', () => {
  let result: ProvisionResult;

  beforeAll(async () => {
    result = await run();
  });

  it('scales a queue visibility timeout by timeScale, rounding up to whole seconds', async () => {
    const read = await clients.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: resource(result, 'Queue').ref,
        AttributeNames: ['VisibilityTimeout'],
      }),
    );

    // 181 × 0.02 = 3.62
    expect(read.Attributes?.VisibilityTimeout).toBe('4');
  });

  it("points a queue's redrive policy at its DLQ's ARN", async () => {
    const read = await clients.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: resource(result, 'Queue').ref,
        AttributeNames: ['RedrivePolicy'],
      }),
    );
    const dlqArn = resource(result, 'QueueDlq').attributes.Arn;

    expect(dlqArn).toMatch(/^arn:aws:sqs:us-east-1:123456789012:/);
    expect(JSON.parse(read.Attributes?.RedrivePolicy ?? '{}')).toEqual({
      deadLetterTargetArn: dlqArn,
      maxReceiveCount: 3,
    });
  });

  it('subscribes with the filter policy, its scope, raw delivery and the redrive policy', async () => {
    const read = await clients.sns.send(
      new GetSubscriptionAttributesCommand({
        SubscriptionArn: resource(result, 'Subscription').ref,
      }),
    );
    const attributes = read.Attributes ?? {};

    expect(attributes.TopicArn).toBe(resource(result, 'Topic').ref);
    expect(attributes.Endpoint).toBe(resource(result, 'Queue').attributes.Arn);
    expect(JSON.parse(attributes.FilterPolicy ?? '{}')).toEqual({
      marketingConsent: ['granted', 'revoked'],
    });
    expect(attributes.FilterPolicyScope).toBe('MessageBody');
    expect(attributes.RawMessageDelivery).toBe('true');
    expect(JSON.parse(attributes.RedrivePolicy ?? '{}')).toEqual({
      deadLetterTargetArn: resource(result, 'SubscriptionDlq').attributes.Arn,
    });
  });

  it('creates a FIFO topic and queue with their deduplication and throughput settings, which deliver in groups', async () => {
    const queueUrl = resource(result, 'FifoQueue').ref;
    const read = await clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['All'] }),
    );
    expect(queueUrl).toMatch(/\.fifo$/);
    expect(read.Attributes).toEqual(
      expect.objectContaining({
        FifoQueue: 'true',
        DeduplicationScope: 'messageGroup',
        FifoThroughputLimit: 'perMessageGroupId',
        ContentBasedDeduplication: 'false',
      }),
    );
    const topicArn = resource(result, 'FifoTopic').ref;
    expect(topicArn).toMatch(/:events-topic\.fifo$/);
    const topic = await clients.sns.send(new GetTopicAttributesCommand({ TopicArn: topicArn }));
    expect(topic.Attributes).toEqual(expect.objectContaining({ FifoTopic: 'true' }));

    // Per message group on the topic: the same deduplication id in two groups is two messages.
    for (const group of ['a', 'b', 'a']) {
      await clients.sns.send(
        new PublishCommand({
          TopicArn: topicArn,
          Message: group,
          MessageGroupId: group,
          MessageDeduplicationId: 'one-id',
        }),
      );
    }
    const received = await clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ['MessageGroupId'],
      }),
    );
    expect(
      (received.Messages ?? []).map((m) => [m.Body, m.Attributes?.MessageGroupId]).sort(),
    ).toEqual([
      ['a', 'a'],
      ['b', 'b'],
    ]);
  });

  it('creates the table with its keys, a stream of both images and TTL', async () => {
    const table = resource(result, 'Table');
    const described = await clients.dynamodb.send(
      new DescribeTableCommand({ TableName: table.ref }),
    );
    const ttl = await clients.dynamodb.send(
      new DescribeTimeToLiveCommand({ TableName: table.ref }),
    );

    expect(described.Table?.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(described.Table?.StreamSpecification).toEqual({
      StreamEnabled: true,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    });
    expect(table.attributes.StreamArn).toBe(described.Table?.LatestStreamArn);
    expect(ttl.TimeToLiveDescription).toEqual(
      expect.objectContaining({ AttributeName: 'expiresAt', TimeToLiveStatus: 'ENABLED' }),
    );
  });

  it('turns on versioning for a versioned bucket', async () => {
    const versioning = await clients.s3.send(
      new GetBucketVersioningCommand({ Bucket: resource(result, 'Bucket').ref }),
    );

    expect(versioning.Status).toBe('Enabled');
  });

  it('puts CDK’s bucket notifications into the emulator: an upload under the prefix reaches the queue, with its version and sequencer', async () => {
    const template: CfnTemplate = {
      Resources: {
        Uploads: {
          Type: 'AWS::S3::Bucket',
          Properties: { VersioningConfiguration: { Status: 'Enabled' } },
        },
        Incoming: { Type: 'AWS::SQS::Queue', Properties: {} },
        // As CDK writes it for addEventNotification(OBJECT_CREATED, new SqsDestination(queue), { prefix }).
        UploadsNotifications: {
          Type: 'Custom::S3BucketNotifications',
          Properties: {
            ServiceToken: getAtt('Handler', 'Arn'),
            BucketName: { Ref: 'Uploads' },
            NotificationConfiguration: {
              QueueConfigurations: [
                {
                  Events: ['s3:ObjectCreated:*'],
                  Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'incoming/' }] } },
                  QueueArn: getAtt('Incoming', 'Arn'),
                },
              ],
            },
            Managed: true,
            SkipDestinationValidation: false,
          },
        },
        Handler: { Type: 'AWS::Lambda::Function', Properties: {} },
      },
    };
    const provisioned = await run(template);
    expect(provisioned.notRun.size).toBe(0);
    const bucket = resource(provisioned, 'Uploads').ref;
    const queueUrl = resource(provisioned, 'Incoming').ref;

    const put = await clients.s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'incoming/a.png', Body: 'x' }),
    );
    await clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'published/a', Body: 'y' }));
    const received = await clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }),
    );

    const bodies = (received.Messages ?? []).map((m) => JSON.parse(m.Body ?? '{}'));
    // S3 tests the configuration with an s3:TestEvent when it is put, as AWS does.
    expect(bodies.filter((b) => b.Event === 's3:TestEvent')).toHaveLength(1);
    const objects = bodies.flatMap((b) => b.Records ?? []).map((r) => r.s3.object);
    expect(objects.map((o) => decodeURIComponent(o.key.replace(/\+/g, ' ')))).toEqual([
      'incoming/a.png',
    ]);
    expect(objects).toEqual([
      expect.objectContaining({
        versionId: put.VersionId,
        sequencer: expect.stringMatching(/^[0-9A-F]+$/),
      }),
    ]);
  });

  it('names an S3 notification to a Lambda function as not run', async () => {
    const provisioned = await run({
      Resources: {
        Uploads: { Type: 'AWS::S3::Bucket', Properties: {} },
        Handler: { Type: 'AWS::Lambda::Function', Properties: {} },
        UploadsNotifications: {
          Type: 'Custom::S3BucketNotifications',
          Properties: {
            BucketName: { Ref: 'Uploads' },
            NotificationConfiguration: {
              LambdaFunctionConfigurations: [
                { Events: ['s3:ObjectCreated:*'], LambdaFunctionArn: getAtt('Handler', 'Arn') },
              ],
            },
          },
        },
      },
    });
    expect(provisioned.notRun.get('Custom::S3BucketNotifications')).toMatch(
      /^S3 event notifications to Lambda functions are not sent \(1 of /,
    );
  });

  it('provisions a second versioned bucket with its lifecycle rule, delete markers included', async () => {
    const bucket = resource(result, 'ContactsBucket').ref;
    expect(bucket).not.toBe(resource(result, 'Bucket').ref);
    const versioning = await clients.s3.send(new GetBucketVersioningCommand({ Bucket: bucket }));
    const lifecycle = await clients.s3.send(
      new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }),
    );

    expect(versioning.Status).toBe('Enabled');
    expect(lifecycle.Rules).toEqual([
      expect.objectContaining({
        ID: 'ForgetReplacedContacts',
        Status: 'Enabled',
        NoncurrentVersionExpiration: { NoncurrentDays: 1 },
        Expiration: { ExpiredObjectDeleteMarker: true },
      }),
    ]);
  });

  it('refuses a lifecycle rule with a setting it would not carry over', async () => {
    const template: CfnTemplate = {
      Resources: {
        Bucket: {
          Type: 'AWS::S3::Bucket',
          Properties: {
            LifecycleConfiguration: {
              Rules: [{ Status: 'Enabled', Transitions: [{ StorageClass: 'GLACIER' }] }],
            },
          },
        },
      },
    };

    await expect(run(template)).rejects.toThrow(/Transitions/);
  });

  it('gives a generated secret a fresh random value on every run', async () => {
    const again = await run();
    const secretValue = async (r: ProvisionResult) =>
      (
        await clients.secretsManager.send(
          new GetSecretValueCommand({ SecretId: resource(r, 'Secret').ref }),
        )
      ).SecretString;

    const first = await secretValue(result);
    const second = await secretValue(again);

    expect(first).toMatch(/^[A-Za-z0-9]{16,}$/);
    expect(second).toMatch(/^[A-Za-z0-9]{16,}$/);
    expect(first).not.toBe(second);
  });

  it('resolves references to resources it does not emulate through stand-ins', async () => {
    const described = await clients.secretsManager.send(
      new DescribeSecretCommand({ SecretId: resource(result, 'Secret').ref }),
    );

    expect(described.Description).toBe(
      `made by ${resource(result, 'Invented').ref} for ${resource(result, 'Role').attributes.Arn}`,
    );
    expect(resource(result, 'Role').attributes.Arn).toMatch(/^arn:aws:iam::123456789012:role\//);
    expect(resource(result, 'Key').attributes.Arn).toMatch(/^arn:aws:kms:us-east-1:/);
  });

  it('lists IAM, KMS and alarm types as not emulated, and an invented type as unknown', () => {
    expect(Object.fromEntries(result.notEmulated)).toEqual({
      'AWS::IAM::Role': 1,
      'AWS::KMS::Key': 1,
      'AWS::CloudWatch::Alarm': 1,
    });
    expect(Object.fromEntries(result.unknown)).toEqual({ 'AWS::Foo::Bar': 1 });
  });

  it('leaves functions to the runtime, keeping their template name', () => {
    expect(result.runtime).toEqual(['Function']);
    expect(resource(result, 'Function').ref).toBe('named-function');
    expect(resource(result, 'Function').attributes.Arn).toBe(
      'arn:aws:lambda:us-east-1:123456789012:function:named-function',
    );
  });
});

describe('readStack', () => {
  let outdir: string;
  const template: CfnTemplate = {
    Resources: { Queue: { Type: 'AWS::SQS::Queue', Properties: {} } },
  };

  beforeAll(async () => {
    outdir = await mkdtemp(path.join(tmpdir(), 'assembly-'));
    const json = (file: string, value: unknown) =>
      writeFile(path.join(outdir, file), JSON.stringify(value));
    await json('manifest.json', {
      version: '48.0.0',
      artifacts: {
        'Pipeline-dev.assets': {
          type: 'cdk:asset-manifest',
          properties: { file: 'Pipeline-dev.assets.json' },
        },
        'Pipeline-dev': {
          type: 'aws:cloudformation:stack',
          properties: { templateFile: 'Pipeline-dev.template.json' },
        },
        'Pipeline-prod': {
          type: 'aws:cloudformation:stack',
          properties: { templateFile: 'Pipeline-prod.template.json' },
        },
        Tree: { type: 'cdk:tree', properties: { file: 'tree.json' } },
      },
    });
    await json('Pipeline-dev.template.json', template);
    await json('Pipeline-dev.assets.json', {
      version: '48.0.0',
      files: {
        abc123: { source: { path: 'asset.abc123', packaging: 'zip' }, destinations: {} },
        def456: { source: { path: 'asset.def456', packaging: 'zip' }, destinations: {} },
      },
    });
  });

  afterAll(async () => {
    await rm(outdir, { recursive: true, force: true });
  });

  it('reads the template and maps each asset hash to its staged directory', () => {
    const stack = readStack(outdir, 'Pipeline-dev');

    expect(stack.stackName).toBe('Pipeline-dev');
    expect(stack.template).toEqual(template);
    expect(Object.fromEntries(stack.assetDirectories)).toEqual({
      abc123: path.join(outdir, 'asset.abc123'),
      def456: path.join(outdir, 'asset.def456'),
    });
  });

  it('refuses an unknown stack, listing the stacks the assembly has', () => {
    expect(() => readStack(outdir, 'Pipeline-test')).toThrow(
      /no stack Pipeline-test .*\(it has: Pipeline-dev, Pipeline-prod\)/,
    );
  });
});
