import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  type Message,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import {
  countMessages,
  type DeadLetterQueue,
  deadLetterQueuesOf,
  findDeadLetterQueues,
  type LocatedDeadLetterQueue,
  locate,
  peekMessages,
  UnknownConsumer,
} from '../../local/dead-letters';
import { runDlq } from '../../local/dlq';
import type { CfnTemplate, LocalCloudState, PhysicalResource } from '../../local/model';
import { type RunningMoto, startMoto } from '../../local/moto';
import { localCloudLocator } from '../../ops/stack-target';
import { synthPipeline } from '../synth';

jest.setTimeout(60_000);

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';

let moto: RunningMoto;
let sqs: SQSClient;
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

beforeAll(async () => {
  moto = await startMoto();
  sqs = new SQSClient({
    endpoint: moto.endpoint,
    region: REGION,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  workDir = await mkdtemp(path.join(tmpdir(), 'dlq-test-'));
  // The CLI names consumers by construct path, which the CDK CLI adds and a bare App does not.
  template = synthPipeline('dev', {
    context: { 'aws:cdk:enable-path-metadata': true },
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
    }
  }
  state = {
    stackName: 'CustomerPipeline-dev',
    region: REGION,
    accountId: ACCOUNT,
    endpoint: moto.endpoint,
    apiUrl: 'http://127.0.0.1:1',
    sinkUrl: 'http://127.0.0.1:1',
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
  await moto?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

beforeEach(async () => {
  for (const url of queueUrls.values()) await sqs.send(new PurgeQueueCommand({ QueueUrl: url }));
});

describe('finding the dead-letter queues in the template', () => {
  test('finds a queue DLQ and a subscription DLQ per consumer, and the stream failure queue', () => {
    expect(dlqs.map(({ consumer, kind }) => `${consumer} ${kind}`)).toEqual([
      'StreamPublisher stream',
      'WelcomeConsumer queue',
      'WelcomeConsumer subscription',
      'ArchiveConsumer queue',
      'ArchiveConsumer subscription',
      'MarketingConsumer queue',
      'MarketingConsumer subscription',
    ]);
  });

  test('sends queue and subscription DLQs back to the consumer queue, and stream failures to the table', () => {
    const welcome = dlqs.filter((dlq) => dlq.consumer === 'WelcomeConsumer');
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
    const stream = dlqs.find((dlq) => dlq.kind === 'stream');
    expect(stream?.logicalId).toMatch(/^StreamPublisherFailureQueue/);
    expect(template.Resources[stream?.sourceLogicalId ?? '']?.Type).toBe('AWS::DynamoDB::Table');
  });

  test('answers to the construct id in any case and to its short form', () => {
    expect(deadLetterQueuesOf(dlqs, 'welcome')).toHaveLength(2);
    expect(deadLetterQueuesOf(dlqs, 'WELCOMECONSUMER')).toHaveLength(2);
    expect(deadLetterQueuesOf(dlqs, 'StreamPublisher')).toEqual([
      expect.objectContaining({ kind: 'stream' }),
    ]);
  });

  test('rejects an unknown consumer, naming the known ones', () => {
    expect(() => deadLetterQueuesOf(dlqs, 'billing')).toThrow(UnknownConsumer);
    expect(() => deadLetterQueuesOf(dlqs, 'billing')).toThrow(
      'known consumers: StreamPublisher, WelcomeConsumer, ArchiveConsumer, MarketingConsumer',
    );
  });

  test('refuses a template without construct paths rather than guessing names', () => {
    const bare: CfnTemplate = {
      Resources: {
        Dlq: { Type: 'AWS::SQS::Queue' },
        Queue: {
          Type: 'AWS::SQS::Queue',
          Properties: { RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['Dlq', 'Arn'] } } },
        },
      },
    };
    expect(() => findDeadLetterQueues(bare)).toThrow(/aws:cdk:path/);
  });
});

describe('npm run dlq list', () => {
  test('counts the messages of every DLQ, naming its source', async () => {
    const welcomeQueueDlq = located1('WelcomeConsumer', 'queue');
    await send(welcomeQueueDlq.queueUrl, '{"a":1}');
    await send(welcomeQueueDlq.queueUrl, '{"a":2}');
    await send(located1('StreamPublisher', 'stream').queueUrl, '{}');

    const { code, out } = await dlq('list');

    expect(code).toBe(0);
    const rows = out.split('\n');
    expect(rows[0]).toMatch(/^CONSUMER\s+KIND\s+QUEUE\s+MESSAGES\s+SOURCE$/);
    expect(rows).toHaveLength(1 + dlqs.length);
    expect(out).toMatch(
      /WelcomeConsumer\s+queue DLQ\s+WelcomeConsumerDeadLetterQueue\w+\s+2\s+queue WelcomeConsumerQueue/,
    );
    expect(out).toMatch(/WelcomeConsumer\s+subscription DLQ\s+\S+\s+0\s+topic subscription/);
    expect(out).toMatch(/StreamPublisher\s+stream failures\s+\S+\s+1\s+stream of table customers/);
  });
});

describe('npm run dlq peek', () => {
  test('shows the messages and leaves every one of them in the DLQ, visible', async () => {
    const archiveDlq = located1('ArchiveConsumer', 'queue');
    for (const n of [1, 2, 3])
      await send(archiveDlq.queueUrl, JSON.stringify({ n }), 'CustomerCreated');

    const { code, out } = await dlq('peek', 'archive');

    expect(code).toBe(0);
    expect(out).toContain('ArchiveConsumer queue DLQ');
    expect(out).toContain('3 shown');
    expect(out).toContain('attributes: MessageType=CustomerCreated');
    expect(out).toMatch(/received \d+×\s+sent \d{4}-\d\d-\d\dT/);
    expect(out).toContain('"n": 2');
    expect(await countMessages(sqs, archiveDlq)).toMatchObject({ visible: 3, inFlight: 0 });
  });

  test('shows at most --max messages, and never hides any to page further', async () => {
    const archiveDlq = located1('ArchiveConsumer', 'queue');
    for (let n = 0; n < 12; n++) await send(archiveDlq.queueUrl, `message ${n}`);

    expect(await peekMessages(sqs, archiveDlq, 11)).toHaveLength(10);
    const { out } = await dlq('peek', 'archive', '--max', '2');
    expect(out).toContain('2 shown');
    expect(await countMessages(sqs, archiveDlq)).toMatchObject({ visible: 12, inFlight: 0 });
    expect((await dlq('peek', 'archive', '--max', '11')).code).toBe(2);
  });

  test('truncates a body over 2 KB', async () => {
    const archiveDlq = located1('ArchiveConsumer', 'queue');
    await send(archiveDlq.queueUrl, 'x'.repeat(3000));

    const { out } = await dlq('peek', 'archive');

    expect(out).toContain(`${'x'.repeat(2048)}\n      … (952 more bytes)`);
    expect(out).not.toContain('x'.repeat(2049));
  });

  test('shows the stream range a stream failure points at', async () => {
    await send(
      located1('StreamPublisher', 'stream').queueUrl,
      JSON.stringify({
        version: '1.0',
        DDBStreamBatchInfo: {
          shardId: 'shardId-0001',
          startSequenceNumber: '100',
          endSequenceNumber: '200',
          batchSize: 2,
          streamArn: 'arn:aws:dynamodb:us-east-1:123456789012:table/customers/stream/x',
        },
      }),
    );

    const { code, out } = await dlq('peek', 'streampublisher');

    expect(code).toBe(0);
    expect(out).toContain('stream range: shard shardId-0001, sequence 100 to 200 (2 records)');
  });
});

describe('npm run dlq redrive', () => {
  test('moves every message back to the consumer queue with body and attributes intact', async () => {
    const marketingDlq = located1('MarketingConsumer', 'queue');
    const bodies = Array.from({ length: 25 }, (_, n) => JSON.stringify({ eventId: `e${n}` }));
    for (const body of bodies) await send(marketingDlq.queueUrl, body, 'CustomerUpdated');

    const { code, out } = await dlq('redrive', 'marketing');

    expect(code).toBe(0);
    expect(out).toMatch(
      /MarketingConsumer queue DLQ \S+ → queue MarketingConsumerQueue\w+: moved 25/,
    );
    expect(out).toMatch(/MarketingConsumer subscription DLQ \S+ → .*: moved 0/);
    expect(await countMessages(sqs, marketingDlq)).toMatchObject({ visible: 0, inFlight: 0 });
    const back = await drain(marketingDlq.source, 25);
    expect(back.map((message) => message.Body).sort()).toEqual([...bodies].sort());
    expect(back.map((message) => message.MessageAttributes?.MessageType?.StringValue)).toEqual(
      Array(25).fill('CustomerUpdated'),
    );
  });

  test('delivers a raw subscription DLQ message as SNS would have: the envelope unwrapped', async () => {
    const welcomeSubscriptionDlq = located1('WelcomeConsumer', 'subscription');
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
    await send(located1('WelcomeConsumer', 'queue').queueUrl, 'from the queue DLQ');

    const { code, out } = await dlq('redrive', 'welcome');

    expect(code).toBe(0);
    expect(out).toMatch(/WelcomeConsumer queue DLQ \S+ → .*: moved 1/);
    expect(out).toMatch(/WelcomeConsumer subscription DLQ \S+ → .*: moved 1/);
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
      const archiveDlq = located1('ArchiveConsumer', 'queue');
      // The source queue keeps messages 4 days (SQS's default): 30 - 4 - 1 = 25 days at most.
      const moving = [eventAged(24.9, 'recent'), eventAged(0, 'fresh'), 'not json at all'];
      await send(archiveDlq.queueUrl, eventAged(25.1, 'too-old'), 'CustomerCreated');
      for (const body of moving) await send(archiveDlq.queueUrl, body, 'CustomerCreated');

      const { code, out, err } = await dlq('redrive', 'archive');

      expect(code).toBe(1);
      expect(out).toMatch(/ArchiveConsumer queue DLQ \S+ → .*: moved 3/);
      expect(err).toMatch(/refused 1, left in the DLQ/);
      expect(err).toMatch(
        /CustomerCreated too-old happened \S+, 25.1 days ago: older than the 25 days a redriven event may be/,
      );
      expect(await countMessages(sqs, archiveDlq)).toMatchObject({ visible: 1, inFlight: 0 });
      const back = await drain(archiveDlq.source, 3);
      expect(back.map((message) => message.Body).sort()).toEqual([...moving].sort());
    });

    test('judges a subscription DLQ message by the event inside its SNS envelope', async () => {
      const subscriptionDlq = located1('MarketingConsumer', 'subscription');
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
      const welcomeDlq = located1('WelcomeConsumer', 'queue');
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
        expect(out).toMatch(/WelcomeConsumer queue DLQ \S+ → .*: moved 1/);
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

  test('does not move stream failures: exits 2 saying how to replay them by hand', async () => {
    const streamDlq = located1('StreamPublisher', 'stream');
    await send(streamDlq.queueUrl, '{"DDBStreamBatchInfo":{}}');

    const { code, err } = await dlq('redrive', 'StreamPublisher');

    expect(code).toBe(2);
    expect(err).toContain('aws dynamodbstreams get-records');
    expect(await visibleCount(streamDlq.queueUrl)).toBe(1);
  });
});

describe('usage', () => {
  test('an unknown consumer is a usage error that lists the known ones', async () => {
    const { code, err } = await dlq('peek', 'billing');

    expect(code).toBe(2);
    expect(err).toContain('no consumer "billing"');
    expect(err).toContain('WelcomeConsumer, ArchiveConsumer, MarketingConsumer');
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
