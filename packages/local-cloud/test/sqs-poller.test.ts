import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import type { EventPattern } from '../src/event-filter';
import type { InvokeOutcome, LambdaInvoker } from '../src/model';
import { type RunningMoto, startMoto } from '../src/moto';
import { waitFor } from '../src/net';
import {
  failedMessageIds,
  type SqsDelivery,
  type SqsMappingSettings,
  SqsPoller,
} from '../src/pollers/sqs-poller';
import { emulatorClientConfig } from '../src/state';

jest.setTimeout(60_000);

const REGION = 'us-east-1';

/** Stands in for a function: records each event and answers with `respond`. */
class FakeFunction implements LambdaInvoker {
  readonly events: SQSEvent[] = [];

  constructor(private readonly respond: (event: SQSEvent) => InvokeOutcome = ok) {}

  async invoke(event: unknown): Promise<InvokeOutcome> {
    const sqsEvent = event as SQSEvent;
    this.events.push(sqsEvent);
    return this.respond(sqsEvent);
  }

  get records(): SQSRecord[] {
    return this.events.flatMap((event) => event.Records);
  }

  bodies(): string[] {
    return this.records.map((record) => record.body);
  }
}

function ok(): InvokeOutcome {
  return { ok: true, payload: null };
}

const functionError: InvokeOutcome = {
  ok: false,
  error: { errorType: 'Error', errorMessage: 'boom' },
};

let moto: RunningMoto;
let sqs: SQSClient;
let queueCount = 0;
const pollers: SqsPoller[] = [];
/** Errors the pollers reported: a test that saw any failed, whatever it asserted. */
const pollerErrors: unknown[] = [];

interface Queue {
  readonly url: string;
  readonly arn: string;
}

/** A queue of its own for each test: moto's SQS slows down as a queue grows. */
const createQueue = async (attributes: Record<string, string> = {}): Promise<Queue> => {
  queueCount += 1;
  const created = await sqs.send(
    new CreateQueueCommand({
      QueueName: `poller-${queueCount}-${Date.now()}${attributes.FifoQueue === 'true' ? '.fifo' : ''}`,
      Attributes: attributes,
    }),
  );
  const url = created.QueueUrl ?? '';
  const read = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
  );
  return { url, arn: read.Attributes?.QueueArn ?? '' };
};

const send = async (queue: Queue, ...bodies: string[]): Promise<string[]> => {
  const ids: string[] = [];
  for (const body of bodies) {
    const sent = await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: body }));
    ids.push(sent.MessageId ?? '');
  }
  return ids;
};

/** Visible plus in-flight messages: zero once everything was deleted. */
const messagesIn = async (queue: Queue): Promise<number> => {
  const read = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queue.url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(read.Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(read.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
};

/** A mapping's settings as the tests start with them, `changes` aside. */
const settingsFor = (
  queue: Queue,
  changes: Partial<SqsMappingSettings> = {},
): SqsMappingSettings => ({
  queueUrl: queue.url,
  queueArn: queue.arn,
  region: REGION,
  batchSize: 10,
  maximumBatchingWindowSeconds: 0,
  reportBatchItemFailures: false,
  filters: [],
  pollers: 1,
  ...changes,
});

const startPoller = (
  queue: Queue,
  target: LambdaInvoker,
  settings: Partial<SqsMappingSettings> = {},
  onDelivery?: (delivery: SqsDelivery) => void,
): SqsPoller => {
  const poller = new SqsPoller({
    sqs,
    target,
    settings: settingsFor(queue, settings),
    onDelivery,
    onError: (error) => pollerErrors.push(error),
  });
  pollers.push(poller);
  poller.start();
  return poller;
};

const count = (values: readonly string[], value: string) =>
  values.filter((v) => v === value).length;

beforeAll(async () => {
  moto = await startMoto();
  sqs = new SQSClient(emulatorClientConfig({ endpoint: moto.endpoint, region: REGION }));
});

afterEach(async () => {
  await Promise.all(pollers.splice(0).map((poller) => poller.stop()));
  expect(pollerErrors.splice(0)).toEqual([]);
});

afterAll(async () => {
  sqs?.destroy();
  await moto?.stop();
});

describe('failedMessageIds', () => {
  const records = [{ messageId: 'm1' }, { messageId: 'm2' }, { messageId: 'm3' }] as SQSRecord[];
  const answer = (payload: unknown): InvokeOutcome => ({ ok: true, payload });

  it('fails every message when the function errors', () => {
    expect(failedMessageIds(functionError, records, true)).toEqual(new Set(['m1', 'm2', 'm3']));
  });

  it('fails nothing on success without ReportBatchItemFailures, whatever the payload', () => {
    expect(
      failedMessageIds(answer({ batchItemFailures: [{ itemIdentifier: 'm1' }] }), records, false),
    ).toEqual(new Set());
  });

  it('fails only the reported messages', () => {
    const outcome = answer({ batchItemFailures: [{ itemIdentifier: 'm2' }] });

    expect(failedMessageIds(outcome, records, true)).toEqual(new Set(['m2']));
  });

  it('fails nothing for an empty list, a missing list or no payload', () => {
    expect(failedMessageIds(answer({ batchItemFailures: [] }), records, true)).toEqual(new Set());
    expect(failedMessageIds(answer({}), records, true)).toEqual(new Set());
    expect(failedMessageIds(answer(null), records, true)).toEqual(new Set());
  });

  it.each([
    ['an unknown id', { batchItemFailures: [{ itemIdentifier: 'm9' }] }],
    ['an empty id', { batchItemFailures: [{ itemIdentifier: '' }] }],
    ['a missing id', { batchItemFailures: [{}] }],
    ['a list that is not an array', { batchItemFailures: 'm1' }],
  ])('fails the whole batch for an invalid report: %s', (_, payload) => {
    expect(failedMessageIds(answer(payload), records, true)).toEqual(new Set(['m1', 'm2', 'm3']));
  });
});

describe('SqsPoller against moto', () => {
  it('stops at once, cancelling its long poll rather than waiting it out', async () => {
    const queue = await createQueue();
    const signals: (AbortSignal | undefined)[] = [];
    const watched = new SQSClient(
      emulatorClientConfig({ endpoint: moto.endpoint, region: REGION }),
    );
    const send = watched.send.bind(watched) as (...args: unknown[]) => Promise<unknown>;
    (watched as unknown as { send: unknown }).send = (...args: unknown[]) => {
      signals.push((args[1] as { abortSignal?: AbortSignal } | undefined)?.abortSignal);
      return send(...args);
    };
    const poller = new SqsPoller({
      sqs: watched,
      target: new FakeFunction(),
      settings: settingsFor(queue, { pollers: 2 }),
      onError: (error) => pollerErrors.push(error),
    });
    poller.start();
    await waitFor(async () => signals.length >= 2, { timeoutMs: 5_000, what: 'two long polls' });

    await poller.stop();

    expect(signals.length).toBeGreaterThanOrEqual(2);
    expect(signals.every((signal) => signal?.aborted === true)).toBe(true);
    watched.destroy();
  });

  it("delivers Lambda's SQS record shape", async () => {
    const queue = await createQueue();
    const sent = await sqs.send(
      new SendMessageCommand({
        QueueUrl: queue.url,
        MessageBody: '{"hello":"world"}',
        MessageAttributes: { Color: { DataType: 'String', StringValue: 'blue' } },
      }),
    );
    const target = new FakeFunction();

    startPoller(queue, target);
    await waitFor(() => target.records.length === 1, { timeoutMs: 10_000, what: 'a delivery' });

    expect(target.records[0]).toEqual(
      expect.objectContaining({
        messageId: sent.MessageId,
        receiptHandle: expect.stringMatching(/.+/),
        body: '{"hello":"world"}',
        attributes: expect.objectContaining({ ApproximateReceiveCount: '1' }),
        messageAttributes: {
          Color: expect.objectContaining({ stringValue: 'blue', dataType: 'String' }),
        },
        eventSource: 'aws:sqs',
        eventSourceARN: queue.arn,
        awsRegion: REGION,
      }),
    );
  });

  it("gives a FIFO queue's records their group, deduplication id and sequence number, as Lambda does", async () => {
    const queue = await createQueue({ FifoQueue: 'true' });
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queue.url,
        MessageBody: 'first',
        MessageGroupId: 'customer-1',
        MessageDeduplicationId: 'event-1',
      }),
    );
    const target = new FakeFunction();

    startPoller(queue, target);
    await waitFor(() => target.records.length === 1, { timeoutMs: 10_000, what: 'a delivery' });

    expect(target.records[0]?.attributes).toEqual(
      expect.objectContaining({
        MessageGroupId: 'customer-1',
        MessageDeduplicationId: 'event-1',
        SequenceNumber: expect.stringMatching(/^\d{20}$/),
      }),
    );
  });

  it('invokes with batches no larger than batchSize and deletes what succeeded', async () => {
    const queue = await createQueue();
    const bodies = ['one', 'two', 'three', 'four', 'five'];
    await send(queue, ...bodies);
    const target = new FakeFunction();

    startPoller(queue, target, { batchSize: 2 });
    await waitFor(async () => target.records.length >= 5 && (await messagesIn(queue)) === 0, {
      timeoutMs: 15_000,
      what: 'every message delivered and deleted',
    });

    expect(target.events.every((event) => event.Records.length <= 2)).toBe(true);
    expect([...target.bodies()].sort()).toEqual([...bodies].sort());
  });

  it('keeps the reported failures, which come back after the visibility timeout, and deletes the rest', async () => {
    const queue = await createQueue({ VisibilityTimeout: '1' });
    await send(queue, 'fine-1', 'fail-once', 'fine-2');
    const target = new FakeFunction((event) => ({
      ok: true,
      payload: {
        batchItemFailures: event.Records.filter(
          (r) => r.body === 'fail-once' && r.attributes.ApproximateReceiveCount === '1',
        ).map((r) => ({ itemIdentifier: r.messageId })),
      },
    }));

    startPoller(queue, target, { reportBatchItemFailures: true });
    await waitFor(async () => count(target.bodies(), 'fail-once') === 2, {
      timeoutMs: 15_000,
      what: 'the failed message to come back',
    });
    await waitFor(async () => (await messagesIn(queue)) === 0, {
      timeoutMs: 15_000,
      what: 'the queue to empty',
    });

    const retried = target.records.filter((r) => r.body === 'fail-once');
    expect(retried.map((r) => r.attributes.ApproximateReceiveCount)).toEqual(['1', '2']);
    expect(count(target.bodies(), 'fine-1')).toBe(1);
    expect(count(target.bodies(), 'fine-2')).toBe(1);
  });

  it('keeps every message of a batch whose invocation failed', async () => {
    const queue = await createQueue({ VisibilityTimeout: '1' });
    await send(queue, 'a', 'b');
    const deliveries: SqsDelivery[] = [];
    const target = new FakeFunction((event) =>
      event.Records.some((r) => r.attributes.ApproximateReceiveCount === '1')
        ? functionError
        : ok(),
    );

    startPoller(queue, target, {}, (delivery) => deliveries.push(delivery));
    await waitFor(async () => (await messagesIn(queue)) === 0 && target.records.length >= 4, {
      timeoutMs: 15_000,
      what: 'both messages redelivered and then deleted',
    });

    expect(count(target.bodies(), 'a')).toBe(2);
    expect(count(target.bodies(), 'b')).toBe(2);
    expect(deliveries.filter((d) => d.outcome === 'failed')).toEqual([
      expect.objectContaining({ receiveCount: 1, error: 'Error: boom' }),
      expect.objectContaining({ receiveCount: 1, error: 'Error: boom' }),
    ]);
  });

  it('fails the whole batch for an invalid batchItemFailures report', async () => {
    const queue = await createQueue({ VisibilityTimeout: '1' });
    await send(queue, 'x');
    const target = new FakeFunction((event) =>
      event.Records[0]?.attributes.ApproximateReceiveCount === '1'
        ? { ok: true, payload: { batchItemFailures: [{ itemIdentifier: 'not-in-batch' }] } }
        : ok(),
    );

    startPoller(queue, target, { reportBatchItemFailures: true });
    await waitFor(async () => target.records.length >= 2 && (await messagesIn(queue)) === 0, {
      timeoutMs: 15_000,
      what: 'the message to be redelivered and deleted',
    });

    expect(target.records.map((r) => r.attributes.ApproximateReceiveCount)).toEqual(['1', '2']);
  });

  it('applies new settings from the next batch on, on the same queue', async () => {
    const queue = await createQueue();
    const target = new FakeFunction();
    const poller = startPoller(queue, target, { filters: [{ body: { kind: ['old'] } }] });
    await send(queue, '{"kind":"old"}');
    await waitFor(async () => target.records.length === 1 && (await messagesIn(queue)) === 0, {
      timeoutMs: 15_000,
      what: 'the first message',
    });

    poller.updateSettings(
      settingsFor(queue, { batchSize: 1, filters: [{ body: { kind: ['new'] } }] }),
    );
    await send(queue, '{"kind":"new"}', '{"kind":"new"}', '{"kind":"old"}');
    await waitFor(async () => (await messagesIn(queue)) === 0, {
      timeoutMs: 15_000,
      what: 'the queue drained',
    });

    expect(target.bodies()).toEqual(['{"kind":"old"}', '{"kind":"new"}', '{"kind":"new"}']);
    expect(target.events.slice(1).map((event) => event.Records.length)).toEqual([1, 1]);
  });

  it('drops (deletes) messages the filter criteria reject, without invoking for them', async () => {
    const queue = await createQueue();
    await send(queue, '{"kind":"drop"}', 'not json', '{"kind":"keep"}');
    const filters: EventPattern[] = [{ body: { kind: ['keep'] } }];
    const deliveries: SqsDelivery[] = [];
    const target = new FakeFunction();

    startPoller(queue, target, { filters }, (delivery) => deliveries.push(delivery));
    await waitFor(async () => deliveries.length === 3 && (await messagesIn(queue)) === 0, {
      timeoutMs: 15_000,
      what: 'every message handled and the queue empty',
    });

    expect(target.bodies()).toEqual(['{"kind":"keep"}']);
    expect(
      deliveries
        .filter((d) => d.outcome === 'filtered')
        .map((d) => d.message.Body)
        .sort(),
    ).toEqual(['not json', '{"kind":"drop"}']);
  });

  it("moves a message that keeps failing to the queue's DLQ after maxReceiveCount receives", async () => {
    const dlq = await createQueue();
    const queue = await createQueue({
      VisibilityTimeout: '1',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 2 }),
    });
    await send(queue, 'poison');
    const target = new FakeFunction(() => functionError);

    startPoller(queue, target);
    await waitFor(async () => (await messagesIn(dlq)) === 1, {
      timeoutMs: 20_000,
      what: 'the message in the DLQ',
    });

    const inDlq = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: dlq.url, MaxNumberOfMessages: 10 }),
    );
    expect(inDlq.Messages?.map((m) => m.Body)).toEqual(['poison']);
    expect(target.records.map((r) => r.attributes.ApproximateReceiveCount)).toEqual(['1', '2']);
    expect(await messagesIn(queue)).toBe(0);
  });
});
