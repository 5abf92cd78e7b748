import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { AttributeValue as SdkAttributeValue } from '@aws-sdk/client-dynamodb';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  ListObjectsV2Command,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { CfnTemplate, LocalCloudState, PhysicalResource } from 'cdk-local-cloud';
import { type RunningMoto, startMoto } from 'cdk-local-cloud';
import type { Customer } from '../../lambda/shared/domain/customer';
import { customerPk, PROFILE_SK } from '../../lambda/shared/domain/keys';
import { unpublishableObject } from '../../lambda/stream-publisher/failure-record';
import {
  countMessages,
  type DeadLetterQueue,
  deadLetterQueuesOf,
  findDeadLetterQueues,
  type LocatedDeadLetterQueue,
  locate,
  peekMessages,
  redriveMessages,
  UnknownConsumer,
} from '../../ops/dead-letters';
import { runDlq } from '../../ops/dlq';
import { localCloudLocator } from '../../ops/stack-target';
import { findStreamFailureBuckets } from '../../ops/stream-failures';
import { synthPipeline } from '../synth';

jest.setTimeout(60_000);

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';

let moto: RunningMoto;
let sqs: SQSClient;
let s3: S3Client;
let sns: SNSClient;
/** The failure bucket, and a queue subscribed (raw) to the events topic: what a replay publishes. */
let failureBucket: string;
let published: string;
let workDir: string;
let template: CfnTemplate;
let dlqs: DeadLetterQueue[];
let located: LocatedDeadLetterQueue[];
let state: LocalCloudState;
const queueUrls = new Map<string, string>();

/** Runs the CLI against the hand-built local cloud; returns its exit code and output. */
const dlq = async (...argv: string[]) => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runDlq(argv, {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    env: { LOCAL_CLOUD_STATE: path.join(workDir, 'state.json') },
    cwd: workDir,
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
};

const located1 = (consumer: string, kind: DeadLetterQueue['kind']): LocatedDeadLetterQueue => {
  const found = located.find((dlq) => dlq.consumer === consumer && dlq.kind === kind);
  if (!found) throw new Error(`no ${kind} DLQ for ${consumer}`);
  return found;
};

const send = async (queueUrl: string, body: string, messageType?: string) => {
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: body,
      MessageAttributes: messageType
        ? { MessageType: { DataType: 'String', StringValue: messageType } }
        : undefined,
    }),
  );
};

/** Takes every message off `queueUrl` (hidden for a minute), up to `expected` of them. */
const drain = async (queueUrl: string, expected: number): Promise<Message[]> => {
  const messages: Message[] = [];
  for (let attempt = 0; attempt < 50 && messages.length < expected; attempt++) {
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 60,
        MessageAttributeNames: ['All'],
      }),
    );
    messages.push(...(received.Messages ?? []));
  }
  return messages;
};

const visibleCount = async (queueUrl: string): Promise<number> => {
  const { Attributes: attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages'],
    }),
  );
  return Number(attributes?.ApproximateNumberOfMessages);
};

// ---- stream failure objects ----------------------------------------------------------------

const STREAM_ARN = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/customers/stream/2025-01-01T00:00:00.000`;
const customer = (n: number, changes: Partial<Customer> = {}): Customer => ({
  id: `0b9f6c1e-3f7a-4c2d-9e8b-${String(n).padStart(12, '0')}`,
  fullName: `Ada Lovelace ${n}`,
  email: `ada${n}@example.com`,
  dateOfBirth: '1815-12-10',
  marketingOptIn: false,
  createdAt: '2025-01-01T00:00:00.000Z',
  updatedAt: '2025-01-01T00:00:00.000Z',
  version: 1,
  ...changes,
});
const image = (item: Record<string, unknown>) =>
  marshall(item) as Record<string, SdkAttributeValue> as NonNullable<
    DynamoDBRecord['dynamodb']
  >['NewImage'];
/** The stream record of customer `n`'s creation, `ageSeconds` ago. */
const inserted = (n: number, ageSeconds = 60, changes: Partial<Customer> = {}): DynamoDBRecord => {
  const c = customer(n, changes);
  return {
    eventID: `stream-event-${n}`,
    eventName: 'INSERT',
    eventSource: 'aws:dynamodb',
    eventVersion: '1.1',
    awsRegion: REGION,
    eventSourceARN: STREAM_ARN,
    dynamodb: {
      ApproximateCreationDateTime: Math.floor(Date.now() / 1000) - ageSeconds,
      Keys: image({ pk: customerPk(c.id), sk: PROFILE_SK }),
      NewImage: image({ pk: customerPk(c.id), sk: PROFILE_SK, ...c }),
      SequenceNumber: `4${String(n).padStart(20, '0')}`,
      SizeBytes: 300,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };
};
/** What Lambda writes to an S3 on-failure destination (AWS's documented example's shape). */
const lambdaFailure = (records: DynamoDBRecord[], { payload = true } = {}) => ({
  requestContext: {
    requestId: '316aa6d0-8154-xmpl-9af7-85d5f4a6bc81',
    functionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:publisher`,
    condition: 'RecordAgeExceeded',
    approximateInvokeCount: 7,
  },
  responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: '' },
  version: '1.0',
  timestamp: new Date().toISOString(),
  DDBStreamBatchInfo: {
    shardId: 'shardId-00000001573689847184-864758bb',
    startSequenceNumber: records[0]?.dynamodb?.SequenceNumber,
    endSequenceNumber: records[records.length - 1]?.dynamodb?.SequenceNumber,
    approximateArrivalOfFirstRecord: '2025-01-01T00:00:00Z',
    approximateArrivalOfLastRecord: '2025-01-01T00:00:00Z',
    batchSize: records.length,
    streamArn: STREAM_ARN,
  },
  ...(payload && { payload: JSON.stringify({ Records: records }) }),
});
let objectCount = 0;
const storeFailure = async (body: unknown): Promise<string> => {
  objectCount += 1;
  const key = `aws/lambda/14e0db71-5d35-4eb5-b481-8945cf9d10c2/shardId-0001/2025/01/01/2025-01-01T00.00.${String(objectCount).padStart(2, '0')}-${crypto.randomUUID()}`;
  await s3.send(
    new PutObjectCommand({ Bucket: failureBucket, Key: key, Body: JSON.stringify(body) }),
  );
  return key;
};
const storedKeys = async (): Promise<string[]> =>
  ((await s3.send(new ListObjectsV2Command({ Bucket: failureBucket }))).Contents ?? []).map(
    (object) => object.Key ?? '',
  );
const emptyFailureBucket = async () => {
  for (const key of await storedKeys()) {
    await s3.send(new DeleteObjectCommand({ Bucket: failureBucket, Key: key }));
  }
};
/** The events a replay published, as the consumers' queues would get them. */
const publishedEvents = async (expected: number) =>
  (await drain(published, expected)).map((message) => ({
    event: JSON.parse(message.Body ?? '{}') as { eventId: string; type: string },
    messageType: message.MessageAttributes?.MessageType?.StringValue,
  }));

beforeAll(async () => {
  moto = await startMoto();
  const config = {
    endpoint: moto.endpoint,
    region: REGION,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  };
  sqs = new SQSClient(config);
  s3 = new S3Client(config);
  sns = new SNSClient(config);
  workDir = await mkdtemp(path.join(tmpdir(), 'dlq-test-'));
  // The CLI names consumers by construct path, which the CDK CLI adds and a bare App does not.
  // Canary deploys, as prod has them: the stream mapping invokes the publisher's `live` alias.
  template = synthPipeline('dev', {
    context: { 'aws:cdk:enable-path-metadata': true, deployment: 'canary' },
  }).template.toJSON() as CfnTemplate;
  // Where `npm start` leaves its own synth: next to the state file.
  await mkdir(path.join(workDir, 'cdk.out'));
  await writeFile(
    path.join(workDir, 'cdk.out', 'CustomerPipeline-dev.template.json'),
    JSON.stringify(template),
  );

  const resources: Record<string, PhysicalResource> = {};
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type === 'AWS::SQS::Queue') {
      const { QueueUrl: url = '' } = await sqs.send(
        new CreateQueueCommand({ QueueName: logicalId }),
      );
      queueUrls.set(logicalId, url);
      resources[logicalId] = {
        logicalId,
        type: resource.Type,
        ref: url,
        attributes: {
          Arn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${logicalId}`,
          QueueName: logicalId,
          QueueUrl: url,
        },
      };
    } else if (resource.Type === 'AWS::DynamoDB::Table') {
      resources[logicalId] = { logicalId, type: resource.Type, ref: 'customers', attributes: {} };
    } else if (resource.Type === 'AWS::S3::Bucket') {
      const name = `b-${logicalId.toLowerCase()}`;
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      await s3.send(
        new PutBucketVersioningCommand({
          Bucket: name,
          VersioningConfiguration: { Status: 'Enabled' },
        }),
      );
      resources[logicalId] = { logicalId, type: resource.Type, ref: name, attributes: {} };
    } else if (resource.Type === 'AWS::SNS::Topic') {
      const { TopicArn: topicArn = '' } = await sns.send(
        new CreateTopicCommand({ Name: logicalId }),
      );
      resources[logicalId] = { logicalId, type: resource.Type, ref: topicArn, attributes: {} };
    }
  }
  const [failures] = findStreamFailureBuckets(template);
  failureBucket = resources[failures?.bucketLogicalId ?? '']?.ref ?? '';
  const capture = await sqs.send(new CreateQueueCommand({ QueueName: 'published-events' }));
  published = capture.QueueUrl ?? '';
  queueUrls.set('published-events', published);
  await sns.send(
    new SubscribeCommand({
      TopicArn: resources[failures?.topicLogicalId ?? '']?.ref,
      Protocol: 'sqs',
      Endpoint: `arn:aws:sqs:${REGION}:${ACCOUNT}:published-events`,
      Attributes: { RawMessageDelivery: 'true' },
    }),
  );
  state = {
    stackName: 'CustomerPipeline-dev',
    region: REGION,
    accountId: ACCOUNT,
    endpoint: moto.endpoint,
    apiUrl: 'http://127.0.0.1:1',
    sidecars: {},
    controlUrl: 'http://127.0.0.1:1',
    timeScale: 1,
    templateFile: path.join(workDir, 'cdk.out', 'CustomerPipeline-dev.template.json'),
    resources,
    pid: process.pid,
  };
  await writeFile(path.join(workDir, 'state.json'), JSON.stringify(state));
  dlqs = findDeadLetterQueues(template);
  located = await locate(dlqs, localCloudLocator(state));
});

afterAll(async () => {
  sqs?.destroy();
  s3?.destroy();
  sns?.destroy();
  await moto?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

beforeEach(async () => {
  for (const url of queueUrls.values()) await sqs.send(new PurgeQueueCommand({ QueueUrl: url }));
  await emptyFailureBucket();
});

describe('finding the dead-letter queues in the template', () => {
  test('finds a queue DLQ and a subscription DLQ per consumer', () => {
    expect(dlqs.map(({ consumer, kind }) => `${consumer} ${kind}`)).toEqual([
      'welcome queue',
      'welcome subscription',
      'archive queue',
      'archive subscription',
      'marketing queue',
      'marketing subscription',
      'avatar queue',
      'avatar subscription',
      'avatar-uploads queue',
    ]);
  });

  test('sends the avatar uploads DLQ, whose messages S3 sent, back to the queue S3 notifies', () => {
    expect(dlqs.filter((dlq) => dlq.consumer === 'avatar-uploads')).toEqual([
      expect.objectContaining({
        logicalId: expect.stringMatching(/^AvatarsUploadsDeadLetterQueue/),
        sourceLogicalId: expect.stringMatching(/^AvatarsUploadsQueue[0-9A-F]{8}$/),
        kind: 'queue',
      }),
    ]);
  });

  test('finds the stream publisher’s failure bucket, its table, and the topic a replay publishes to', () => {
    const [only, ...more] = findStreamFailureBuckets(template);
    expect(more).toEqual([]);
    expect(only?.consumer).toBe('stream-publisher');
    expect(only?.bucketLogicalId).toMatch(/^StreamPublisherFailureBucket/);
    expect(template.Resources[only?.tableLogicalId ?? '']?.Type).toBe('AWS::DynamoDB::Table');
    expect(only?.topicLogicalId).toMatch(/^CustomerEventsTopic/);
  });

  test('sends queue and subscription DLQs back to the consumer queue', () => {
    const welcome = dlqs.filter((dlq) => dlq.consumer === 'welcome');
    expect(welcome).toEqual([
      expect.objectContaining({
        logicalId: expect.stringMatching(/^WelcomeConsumerDeadLetterQueue/),
        sourceLogicalId: expect.stringMatching(/^WelcomeConsumerQueue[0-9A-F]{8}$/),
      }),
      expect.objectContaining({
        logicalId: expect.stringMatching(/^WelcomeConsumerSubscriptionDeadLetterQueue/),
        sourceLogicalId: expect.stringMatching(/^WelcomeConsumerQueue[0-9A-F]{8}$/),
        rawDelivery: true,
      }),
    ]);
  });

  test('answers to the one name the constructs gave the consumer, in any case, and to no other', () => {
    expect(deadLetterQueuesOf(dlqs, 'welcome')).toHaveLength(2);
    expect(deadLetterQueuesOf(dlqs, 'WELCOME')).toHaveLength(2);
    expect(() => deadLetterQueuesOf(dlqs, 'WelcomeConsumer')).toThrow(UnknownConsumer);
  });

  test('rejects an unknown consumer, naming the known ones', () => {
    expect(() => deadLetterQueuesOf(dlqs, 'billing')).toThrow(UnknownConsumer);
    expect(() => deadLetterQueuesOf(dlqs, 'billing')).toThrow(
      'known consumers: welcome, archive, marketing',
    );
  });

  test('refuses a template whose constructs name no consumer rather than guessing names', () => {
    const bare: CfnTemplate = {
      Resources: {
        Dlq: { Type: 'AWS::SQS::Queue' },
        Queue: {
          Type: 'AWS::SQS::Queue',
          Properties: { RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['Dlq', 'Arn'] } } },
        },
      },
    };
    expect(() => findDeadLetterQueues(bare)).toThrow(
      /Queue names no consumer.*customer-pipeline:resource/,
    );
  });
});

describe('npm run dlq list', () => {
  test('counts the messages of every DLQ and the objects of the failure bucket, naming the source', async () => {
    const welcomeQueueDlq = located1('welcome', 'queue');
    await send(welcomeQueueDlq.queueUrl, '{"a":1}');
    await send(welcomeQueueDlq.queueUrl, '{"a":2}');
    const key = await storeFailure(lambdaFailure([inserted(1)]));

    const { code, out } = await dlq('list');

    expect(code).toBe(0);
    const rows = out.split('\n');
    expect(rows[0]).toMatch(/^CONSUMER\s+KIND\s+WHERE\s+HOLDS\s+SOURCE$/);
    expect(out).toMatch(
      /welcome\s+queue DLQ\s+WelcomeConsumerDeadLetterQueue\w+\s+2\s+queue WelcomeConsumerQueue/,
    );
    expect(out).toMatch(/welcome\s+subscription DLQ\s+\S+\s+0\s+topic subscription/);
    expect(out).toMatch(
      new RegExp(
        `stream-publisher\\s+stream failures\\s+s3://${failureBucket}\\s+1 objects\\s+stream of table customers`,
      ),
    );
    // The objects themselves, to replay by key.
    expect(out).toContain(`  ${key}  `);
  });
});

describe('npm run dlq peek', () => {
  test('shows the messages and leaves every one of them in the DLQ, visible', async () => {
    const archiveDlq = located1('archive', 'queue');
    for (const n of [1, 2, 3])
      await send(archiveDlq.queueUrl, JSON.stringify({ n }), 'CustomerCreated');

    const { code, out } = await dlq('peek', 'archive');

    expect(code).toBe(0);
    expect(out).toContain('archive queue DLQ');
    expect(out).toContain('3 shown');
    expect(out).toContain('attributes: MessageType=CustomerCreated');
    expect(out).toMatch(/received \d+×\s+sent \d{4}-\d\d-\d\dT/);
    expect(out).toContain('"n": 2');
    expect(await countMessages(sqs, archiveDlq)).toMatchObject({ visible: 3, inFlight: 0 });
  });

  test('shows at most --max messages, and never hides any to page further', async () => {
    const archiveDlq = located1('archive', 'queue');
    for (let n = 0; n < 12; n++) await send(archiveDlq.queueUrl, `message ${n}`);

    expect(await peekMessages(sqs, archiveDlq, 11)).toHaveLength(10);
    const { out } = await dlq('peek', 'archive', '--max', '2');
    expect(out).toContain('2 shown');
    expect(await countMessages(sqs, archiveDlq)).toMatchObject({ visible: 12, inFlight: 0 });
    expect((await dlq('peek', 'archive', '--max', '11')).code).toBe(2);
  });

  test('truncates a body over 2 KB', async () => {
    const archiveDlq = located1('archive', 'queue');
    await send(archiveDlq.queueUrl, 'x'.repeat(3000));

    const { out } = await dlq('peek', 'archive');

    expect(out).toContain(`${'x'.repeat(2048)}\n      … (952 more bytes)`);
    expect(out).not.toContain('x'.repeat(2049));
  });

  test('shows a failure object’s records by their keys and sequence numbers, never their images', async () => {
    await storeFailure(lambdaFailure([inserted(1), inserted(2)]));

    const { code, out } = await dlq('peek', 'stream-publisher');

    expect(code).toBe(0);
    expect(out).toContain('1 shown');
    expect(out).toMatch(
      /RecordAgeExceeded at \S+, shard shardId-00000001573689847184-864758bb, sequence 4\d+ to 4\d+/,
    );
    expect(out).toContain(
      `${inserted(2).dynamodb?.SequenceNumber}  INSERT  stream-event-2  pk=CUSTOMER#${customer(2).id} sk=PROFILE`,
    );
    expect(out).not.toContain('ada2@example.com');
    expect(out).not.toContain('Ada Lovelace');
  });

  test('says so of an object without a payload', async () => {
    await storeFailure(lambdaFailure([inserted(1)], { payload: false }));

    const { out } = await dlq('peek', 'stream-publisher');

    expect(out).toContain('no payload: the invocation record only');
  });
});

describe('npm run dlq redrive', () => {
  test('moves every message back to the consumer queue with body and attributes intact', async () => {
    const marketingDlq = located1('marketing', 'queue');
    const bodies = Array.from({ length: 25 }, (_, n) => JSON.stringify({ eventId: `e${n}` }));
    for (const body of bodies) await send(marketingDlq.queueUrl, body, 'CustomerUpdated');

    const { code, out } = await dlq('redrive', 'marketing');

    expect(code).toBe(0);
    expect(out).toMatch(/marketing queue DLQ \S+ → queue MarketingConsumerQueue\w+: moved 25/);
    expect(out).toMatch(/marketing subscription DLQ \S+ → .*: moved 0/);
    expect(await countMessages(sqs, marketingDlq)).toMatchObject({ visible: 0, inFlight: 0 });
    const back = await drain(marketingDlq.source, 25);
    expect(back.map((message) => message.Body).sort()).toEqual([...bodies].sort());
    expect(back.map((message) => message.MessageAttributes?.MessageType?.StringValue)).toEqual(
      Array(25).fill('CustomerUpdated'),
    );
  });

  test('a FIFO DLQ (ordering=perCustomer) goes back in order, each message in its group, under a new deduplication id', async () => {
    const fifo = async (name: string) =>
      (
        await sqs.send(
          new CreateQueueCommand({
            QueueName: `${name}-${Date.now()}.fifo`,
            Attributes: {
              FifoQueue: 'true',
              DeduplicationScope: 'messageGroup',
              FifoThroughputLimit: 'perMessageGroupId',
            },
          }),
        )
      ).QueueUrl ?? '';
    const [source, dlqUrl] = [await fifo('archive'), await fifo('archive-dlq')];
    // As they were first sent: SQS would drop a resend under these ids for 5 minutes.
    const events = [
      ['customer-a', 'a1'],
      ['customer-b', 'b1'],
      ['customer-a', 'a2'],
    ] as const;
    for (const queue of [source, dlqUrl]) {
      for (const [group, eventId] of events) {
        await sqs.send(
          new SendMessageCommand({
            QueueUrl: queue,
            MessageBody: JSON.stringify({ eventId }),
            MessageGroupId: group,
            MessageDeduplicationId: eventId,
          }),
        );
      }
    }
    /** Every message of a FIFO queue, in the order SQS hands them out, each deleted once read. */
    const takeAll = async (queueUrl: string): Promise<Message[]> => {
      const taken: Message[] = [];
      for (;;) {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: 10,
            MessageSystemAttributeNames: ['MessageGroupId', 'MessageDeduplicationId'],
          }),
        );
        if (Messages.length === 0) return taken;
        for (const message of Messages) {
          taken.push(message);
          await sqs.send(
            new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
          );
        }
      }
    };
    expect(await takeAll(source)).toHaveLength(3);

    const result = await redriveMessages(sqs, {
      consumer: 'ArchiveConsumer',
      kind: 'queue',
      logicalId: 'ArchiveDlq',
      sourceLogicalId: 'ArchiveQueue',
      rawDelivery: false,
      queueUrl: dlqUrl,
      source,
    });

    expect(result).toMatchObject({ moved: 3, left: 0 });
    const back = await takeAll(source);
    expect(
      back.map((m) => [m.Attributes?.MessageGroupId, JSON.parse(m.Body ?? '{}').eventId]),
    ).toEqual([
      ['customer-a', 'a1'],
      ['customer-b', 'b1'],
      ['customer-a', 'a2'],
    ]);
    expect(back.map((m) => m.Attributes?.MessageDeduplicationId)).toEqual(
      back.map(() => expect.stringMatching(/^redrive-/)),
    );
  });

  test('delivers a raw subscription DLQ message as SNS would have: the envelope unwrapped', async () => {
    const welcomeSubscriptionDlq = located1('welcome', 'subscription');
    const event = JSON.stringify({ eventId: 'e1', type: 'CustomerCreated' });
    await send(
      welcomeSubscriptionDlq.queueUrl,
      JSON.stringify({
        Type: 'Notification',
        MessageId: 'm1',
        TopicArn: `arn:aws:sns:${REGION}:${ACCOUNT}:events`,
        Message: event,
        MessageAttributes: { MessageType: { Type: 'String', Value: 'CustomerCreated' } },
      }),
    );
    await send(located1('welcome', 'queue').queueUrl, 'from the queue DLQ');

    const { code, out } = await dlq('redrive', 'welcome');

    expect(code).toBe(0);
    expect(out).toMatch(/welcome queue DLQ \S+ → .*: moved 1/);
    expect(out).toMatch(/welcome subscription DLQ \S+ → .*: moved 1/);
    const back = await drain(welcomeSubscriptionDlq.source, 2);
    expect(back.map((message) => message.Body).sort()).toEqual(
      [event, 'from the queue DLQ'].sort(),
    );
    const unwrapped = back.find((message) => message.Body === event);
    expect(unwrapped?.MessageAttributes?.MessageType?.StringValue).toBe('CustomerCreated');
  });

  describe("an event too old to meet a deleted customer's tombstone stays in the DLQ", () => {
    const DAY_MS = 24 * 60 * 60 * 1000;
    const eventAged = (days: number, eventId: string) =>
      JSON.stringify({
        eventId,
        type: 'CustomerCreated',
        occurredAt: new Date(Date.now() - days * DAY_MS).toISOString(),
      });

    test('refuses and lists it, leaves it visible, and moves everything else', async () => {
      const archiveDlq = located1('archive', 'queue');
      // The source queue keeps messages 4 days (SQS's default): 30 - 4 - 1 = 25 days at most.
      const moving = [eventAged(24.9, 'recent'), eventAged(0, 'fresh'), 'not json at all'];
      await send(archiveDlq.queueUrl, eventAged(25.1, 'too-old'), 'CustomerCreated');
      for (const body of moving) await send(archiveDlq.queueUrl, body, 'CustomerCreated');

      const { code, out, err } = await dlq('redrive', 'archive');

      expect(code).toBe(1);
      expect(out).toMatch(/archive queue DLQ \S+ → .*: moved 3/);
      expect(err).toMatch(/refused 1, left in the DLQ/);
      expect(err).toMatch(
        /CustomerCreated too-old happened \S+, 25.1 days ago: older than the 25 days a redriven event may be/,
      );
      expect(await countMessages(sqs, archiveDlq)).toMatchObject({ visible: 1, inFlight: 0 });
      const back = await drain(archiveDlq.source, 3);
      expect(back.map((message) => message.Body).sort()).toEqual([...moving].sort());
    });

    test('judges a subscription DLQ message by the event inside its SNS envelope', async () => {
      const subscriptionDlq = located1('marketing', 'subscription');
      await send(
        subscriptionDlq.queueUrl,
        JSON.stringify({
          Type: 'Notification',
          MessageId: 'm1',
          TopicArn: `arn:aws:sns:${REGION}:${ACCOUNT}:events`,
          Message: eventAged(40, 'enveloped'),
        }),
      );

      const { code, err } = await dlq('redrive', 'marketing');

      expect(code).toBe(1);
      expect(err).toMatch(/CustomerCreated enveloped happened/);
      expect(await visibleCount(subscriptionDlq.queueUrl)).toBe(1);
      expect(await visibleCount(subscriptionDlq.source)).toBe(0);
    });

    test("takes the bound from the source queue's retention", async () => {
      const welcomeDlq = located1('welcome', 'queue');
      await sqs.send(
        new SetQueueAttributesCommand({
          QueueUrl: welcomeDlq.source,
          Attributes: { MessageRetentionPeriod: String(14 * 24 * 60 * 60) },
        }),
      );
      try {
        // 30 - 14 - 1: 15 days at most.
        await send(welcomeDlq.queueUrl, eventAged(15.5, 'half-a-day-too-old'));
        await send(welcomeDlq.queueUrl, eventAged(14.5, 'young-enough'));

        const { code, out, err } = await dlq('redrive', 'welcome');

        expect(code).toBe(1);
        expect(out).toMatch(/welcome queue DLQ \S+ → .*: moved 1/);
        expect(err).toMatch(/half-a-day-too-old .* older than the 15 days/);
      } finally {
        await sqs.send(
          new SetQueueAttributesCommand({
            QueueUrl: welcomeDlq.source,
            Attributes: { MessageRetentionPeriod: String(4 * 24 * 60 * 60) },
          }),
        );
      }
    });
  });

  test('does not move stream failures: exits 2 pointing at replay, and leaves them', async () => {
    await storeFailure(lambdaFailure([inserted(1)]));

    const { code, err } = await dlq('redrive', 'stream-publisher');

    expect(code).toBe(2);
    expect(err).toContain('npm run dlq -- replay');
    expect(await storedKeys()).toHaveLength(1);
  });
});

describe('npm run dlq replay', () => {
  test('publishes the records of a failure object as the publisher would, same eventIds, then deletes it', async () => {
    const key = await storeFailure(lambdaFailure([inserted(1), inserted(2)]));

    const { code, out } = await dlq('replay', key);

    expect({ code, out }).toEqual({ code: 0, out: `${key}: published 2, skipped 0; deleted` });
    const events = await publishedEvents(2);
    expect(events.map(({ event }) => event.eventId).sort()).toEqual([
      'stream-event-1',
      'stream-event-2',
    ]);
    expect(events.map(({ messageType }) => messageType)).toEqual([
      'CustomerCreated',
      'CustomerCreated',
    ]);
    expect(await storedKeys()).toEqual([]);
  });

  test('takes the object as an s3:// URI of the failure bucket, and refuses another bucket', async () => {
    const key = await storeFailure(lambdaFailure([inserted(1)]));

    expect((await dlq('replay', `s3://other-bucket/${key}`)).code).toBe(1);
    expect(await storedKeys()).toEqual([key]);
    expect((await dlq('replay', `s3://${failureBucket}/${key}`)).code).toBe(0);
    expect(await storedKeys()).toEqual([]);
  });

  test('replays the function’s own object for a record it could not publish, once the record reads', async () => {
    const { key, body } = unpublishableObject(
      inserted(3),
      'NewImage is not a customer (version: too_small)',
      { awsRequestId: 'r', invokedFunctionArn: 'arn', functionVersion: '$LATEST' },
      new Date(),
    );
    await s3.send(new PutObjectCommand({ Bucket: failureBucket, Key: key, Body: body }));

    const { code } = await dlq('replay', key);

    expect(code).toBe(0);
    expect((await publishedEvents(1)).map(({ event }) => event.eventId)).toEqual([
      'stream-event-3',
    ]);
  });

  test('keeps an object with a record that still cannot be published, naming it without its data', async () => {
    const bad = inserted(2, 60, { version: 0, email: 'still-pii@example.org' });
    const key = await storeFailure(lambdaFailure([inserted(1), bad]));

    const { code, err } = await dlq('replay', key);

    expect(code).toBe(1);
    expect(err).toContain(`${key}: published 1, skipped 0; kept`);
    expect(err).toContain(
      `${bad.dynamodb?.SequenceNumber}: cannot be published: NewImage is not a customer (version: too_small)`,
    );
    expect(err).not.toContain('still-pii@example.org');
    expect(await storedKeys()).toEqual([key]);
  });

  test('refuses a change older than a replayed event may be, unless --include-old', async () => {
    // Published again, it may take SNS's 23 days and a queue's 4: 30 - 23 - 4 - 1 = 2 days.
    const key = await storeFailure(
      lambdaFailure([inserted(1, 60), inserted(2, 2.1 * 24 * 60 * 60)]),
    );

    const refused = await dlq('replay', key);

    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(
      /refused: CustomerCreated stream-event-2 happened \S+, 2.1 days ago: older than the 2 days a replayed event may be/,
    );
    expect(await storedKeys()).toEqual([key]);
    expect((await publishedEvents(1)).map(({ event }) => event.eventId)).toEqual([
      'stream-event-1',
    ]);

    const forced = await dlq('replay', key, '--include-old');

    expect(forced.code).toBe(0);
    expect(await storedKeys()).toEqual([]);
  });

  test('keeps an object that holds the invocation record only, saying what to do instead', async () => {
    const key = await storeFailure(lambdaFailure([inserted(1)], { payload: false }));

    const { code, err } = await dlq('replay', key);

    expect(code).toBe(1);
    expect(err).toContain('invocation record only, no payload');
    expect(await storedKeys()).toEqual([key]);
  });

  test('--all replays every object', async () => {
    await storeFailure(lambdaFailure([inserted(1)]));
    await storeFailure(lambdaFailure([inserted(2), inserted(3)]));

    const { code } = await dlq('replay', '--all');

    expect(code).toBe(0);
    expect(await storedKeys()).toEqual([]);
    expect(await publishedEvents(3)).toHaveLength(3);
  });

  test('an object that is not there is a failure that says so', async () => {
    const { code, err } = await dlq('replay', 'aws/lambda/nothing-here');

    expect(code).toBe(1);
    expect(err).toContain('no such object');
  });

  test('needs one object key, or --all', async () => {
    expect((await dlq('replay')).code).toBe(2);
    expect((await dlq('replay', 'a-key', '--all')).code).toBe(2);
  });
});

describe('usage', () => {
  test('an unknown consumer is a usage error that lists the known ones', async () => {
    const { code, err } = await dlq('peek', 'billing');

    expect(code).toBe(2);
    expect(err).toContain('no consumer "billing"');
    expect(err).toContain('stream-publisher, welcome, archive, marketing');
  });

  test('an unknown command or a bad --max is a usage error', async () => {
    expect((await dlq('purge', 'welcome')).code).toBe(2);
    expect((await dlq('peek', 'welcome', '--max', '0')).code).toBe(2);
    expect((await dlq('redrive')).code).toBe(2);
  });

  test('a state file of a local cloud that no longer runs is a failure that says so', async () => {
    const finished = spawnSync(process.execPath, ['-e', '']).pid;
    const staleFile = path.join(workDir, 'stale-state.json');
    await writeFile(staleFile, JSON.stringify({ ...state, pid: finished }));

    const { code, err } = await dlq('list', '--state-file', staleFile);

    expect(code).toBe(1);
    expect(err).toContain('is not running');
  });
});
