import {
  DynamoDBClient,
  PutItemCommand,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import type { _Record } from '@aws-sdk/client-dynamodb-streams';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { parseFilterCriteria } from '../src/event-filter';
import type { InvokeOutcome, LambdaInvoker } from '../src/model';
import { type RunningMoto, startMoto } from '../src/moto';
import { waitFor } from '../src/net';
import {
  batchResult,
  type StreamMappingSettings,
  StreamPoller,
  toLambdaStreamRecord,
} from '../src/pollers/stream-poller';
import { emulatorClientConfig } from '../src/state';
import { createCustomerTable } from './stream-tables';

jest.setTimeout(60_000);

const REGION = 'us-east-1';
const FUNCTION_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:publisher';
const MAPPING_ID = '14e0db71-5d35-4eb5-b481-8945cf9d10c2';
const PROFILE_ONLY = parseFilterCriteria({
  Filters: [{ Pattern: '{"dynamodb":{"Keys":{"sk":{"S":["PROFILE"]}}}}' }],
});

const functionError: InvokeOutcome = {
  ok: false,
  error: { errorType: 'Error', errorMessage: 'boom' },
};

/** Stands in for the publisher: records each batch and answers with `respond`. */
class FakeFunction implements LambdaInvoker {
  readonly batches: DynamoDBRecord[][] = [];

  constructor(
    private readonly respond: (records: DynamoDBRecord[], call: number) => InvokeOutcome = () => ({
      ok: true,
      payload: null,
    }),
  ) {}

  async invoke(event: unknown): Promise<InvokeOutcome> {
    const records = (event as DynamoDBStreamEvent).Records;
    this.batches.push(records);
    return this.respond(records, this.batches.length);
  }

  /** The `pk` of every record of every batch, in delivery order. */
  keys(): string[] {
    return this.batches.flat().map(pkOf);
  }
}

const pkOf = (record: DynamoDBRecord): string => record.dynamodb?.Keys?.pk?.S ?? '';
const hasKey = (records: readonly DynamoDBRecord[], pk: string) =>
  records.some((r) => pkOf(r) === pk);

let moto: RunningMoto;
let dynamodb: DynamoDBClient;
let streams: DynamoDBStreamsClient;
let sqs: SQSClient;
let sns: SNSClient;
let s3: S3Client;
let tableCount = 0;
const pollers: StreamPoller[] = [];
const pollerErrors: unknown[] = [];

/** A table of its own for each test, keyed like the customer table, streaming both images. */
const createTable = async (): Promise<{ name: string; streamArn: string }> => {
  tableCount += 1;
  return createCustomerTable(dynamodb, `stream-${tableCount}-${Date.now()}`);
};

const put = (table: string, pk: string, sk = 'PROFILE', extra: Record<string, string> = {}) =>
  dynamodb.send(
    new PutItemCommand({
      TableName: table,
      Item: {
        pk: { S: pk },
        sk: { S: sk },
        ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, { S: v }])),
      },
    }),
  );

const createDestination = async (): Promise<{ url: string; arn: string }> => {
  tableCount += 1;
  const name = `on-failure-${tableCount}-${Date.now()}`;
  const created = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  return { url: created.QueueUrl ?? '', arn: `arn:aws:sqs:${REGION}:123456789012:${name}` };
};

/** Receives from the destination until `count` messages arrived (bounded). */
const receiveAll = async (url: string, count: number): Promise<Message[]> => {
  const messages: Message[] = [];
  await waitFor(
    async () => {
      const received = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
      );
      messages.push(...(received.Messages ?? []));
      return messages.length >= count;
    },
    { timeoutMs: 20_000, what: `${count} message(s) on the on-failure queue` },
  );
  return messages;
};

/** A mapping's settings as the tests start with them, `changes` aside. */
const settingsFor = (
  streamArn: string,
  changes: Partial<StreamMappingSettings> = {},
): StreamMappingSettings => ({
  streamArn,
  functionArn: FUNCTION_ARN,
  mappingId: MAPPING_ID,
  region: REGION,
  startingPosition: 'TRIM_HORIZON',
  batchSize: 10,
  maximumBatchingWindowSeconds: 0,
  bisectBatchOnFunctionError: false,
  maximumRetryAttempts: -1,
  maximumRecordAgeSeconds: -1,
  reportBatchItemFailures: false,
  filters: [],
  retryBaseDelayMs: 5,
  ...changes,
});

const startPoller = async (
  streamArn: string,
  target: LambdaInvoker,
  settings: Partial<StreamMappingSettings> = {},
): Promise<StreamPoller> => {
  const poller = new StreamPoller({
    streams,
    sqs,
    sns,
    s3,
    target,
    settings: settingsFor(streamArn, settings),
    onError: (error) => pollerErrors.push(error),
  });
  pollers.push(poller);
  await poller.start();
  return poller;
};

beforeAll(async () => {
  moto = await startMoto();
  const config = emulatorClientConfig({ endpoint: moto.endpoint, region: REGION });
  dynamodb = new DynamoDBClient(config);
  streams = new DynamoDBStreamsClient(config);
  sqs = new SQSClient(config);
  sns = new SNSClient(config);
  s3 = new S3Client(config);
});

afterEach(async () => {
  await Promise.all(pollers.splice(0).map((poller) => poller.stop()));
  expect(pollerErrors.splice(0)).toEqual([]);
});

afterAll(async () => {
  for (const client of [dynamodb, streams, sqs, sns, s3]) client?.destroy();
  await moto?.stop();
});

describe('toLambdaStreamRecord', () => {
  const record: _Record = {
    eventID: 'e-1',
    eventName: 'MODIFY',
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    dynamodb: {
      ApproximateCreationDateTime: new Date('2025-05-01T12:00:00.750Z'),
      Keys: { pk: { S: 'c-1' }, sk: { S: 'PROFILE' } },
      NewImage: { pk: { S: 'c-1' }, sk: { S: 'PROFILE' }, v: { N: '2' } },
      OldImage: { pk: { S: 'c-1' }, sk: { S: 'PROFILE' }, v: { N: '1' } },
      SequenceNumber: '100',
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };
  const streamArn = 'arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2025-05-01T00:00:00';

  it('gives the creation time in epoch seconds, the stream ARN and the region', () => {
    const converted = toLambdaStreamRecord(record, streamArn, 'eu-west-1');

    expect(converted).toEqual({
      eventID: 'e-1',
      eventName: 'MODIFY',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      eventSourceARN: streamArn,
      awsRegion: 'eu-west-1',
      dynamodb: {
        ApproximateCreationDateTime: Date.parse('2025-05-01T12:00:00Z') / 1000,
        Keys: record.dynamodb?.Keys,
        NewImage: record.dynamodb?.NewImage,
        OldImage: record.dynamodb?.OldImage,
        SequenceNumber: '100',
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    });
  });

  it('reads a creation time given as a date string', () => {
    const asString = {
      ...record,
      dynamodb: { ...record.dynamodb, ApproximateCreationDateTime: '2025-05-01T12:00:00.750Z' },
    } as unknown as _Record;

    expect(
      toLambdaStreamRecord(asString, streamArn, REGION).dynamodb?.ApproximateCreationDateTime,
    ).toBe(Date.parse('2025-05-01T12:00:00Z') / 1000);
  });
});

describe('batchResult', () => {
  const batch = ['10', '20', '30', '40'].map(
    (sequence) => ({ dynamodb: { SequenceNumber: sequence } }) as DynamoDBRecord,
  );
  const answer = (payload: unknown): InvokeOutcome => ({ ok: true, payload });

  it('retries the whole batch after a function error', () => {
    expect(batchResult(functionError, batch, true)).toEqual({ kind: 'retry-from', index: 0 });
  });

  it('is done on success without ReportBatchItemFailures, whatever the payload', () => {
    const outcome = answer({ batchItemFailures: [{ itemIdentifier: '30' }] });

    expect(batchResult(outcome, batch, false)).toEqual({ kind: 'done' });
  });

  it('is done for an empty or missing failure list', () => {
    expect(batchResult(answer({ batchItemFailures: [] }), batch, true)).toEqual({ kind: 'done' });
    expect(batchResult(answer(null), batch, true)).toEqual({ kind: 'done' });
  });

  it('retries from the lowest reported sequence number', () => {
    const outcome = answer({
      batchItemFailures: [{ itemIdentifier: '40' }, { itemIdentifier: '20' }],
    });

    expect(batchResult(outcome, batch, true)).toEqual({ kind: 'retry-from', index: 1 });
  });

  it.each([
    ['an unknown sequence number', { batchItemFailures: [{ itemIdentifier: '99' }] }],
    ['an empty identifier', { batchItemFailures: [{ itemIdentifier: '' }] }],
    ['a list that is not an array', { batchItemFailures: { itemIdentifier: '30' } }],
  ])('retries the whole batch for an invalid report: %s', (_, payload) => {
    expect(batchResult(answer(payload), batch, true)).toEqual({ kind: 'retry-from', index: 0 });
  });
});

describe('StreamPoller against moto', () => {
  it('delivers the records in order, with both images of a change', async () => {
    const table = await createTable();
    const target = new FakeFunction();
    await startPoller(table.streamArn, target);

    await put(table.name, 'a', 'PROFILE', { name: 'Ada' });
    await put(table.name, 'a', 'PROFILE', { name: 'Ada Lovelace' });
    await put(table.name, 'b');
    await waitFor(() => target.keys().length >= 3, { timeoutMs: 15_000, what: 'three records' });

    const records = target.batches.flat();
    expect(records.map((r) => [r.eventName, pkOf(r)])).toEqual([
      ['INSERT', 'a'],
      ['MODIFY', 'a'],
      ['INSERT', 'b'],
    ]);
    expect(records[1]?.dynamodb?.OldImage?.name).toEqual({ S: 'Ada' });
    expect(records[1]?.dynamodb?.NewImage?.name).toEqual({ S: 'Ada Lovelace' });
    expect(records.every((r) => r.eventSourceARN === table.streamArn)).toBe(true);
    expect(records.every((r) => typeof r.dynamodb?.ApproximateCreationDateTime === 'number')).toBe(
      true,
    );
  });

  it('follows each page’s NextShardIterator, as Lambda does: one GetShardIterator per shard', async () => {
    const table = await createTable();
    const target = new FakeFunction();
    const sent: string[] = [];
    const send = streams.send.bind(streams);
    const spy = jest.spyOn(streams, 'send').mockImplementation(((command: {
      constructor: { name: string };
    }) => {
      sent.push(command.constructor.name);
      return send(command as never);
    }) as typeof streams.send);
    try {
      await startPoller(table.streamArn, target);
      for (const pk of ['a', 'b', 'c']) {
        await put(table.name, pk);
        await waitFor(() => target.keys().includes(pk), { timeoutMs: 15_000, what: pk });
      }
    } finally {
      spy.mockRestore();
    }
    expect(sent.filter((name) => name === 'GetShardIteratorCommand')).toHaveLength(1);
    expect(sent.filter((name) => name === 'GetRecordsCommand').length).toBeGreaterThan(3);
  });

  it('starts after the records already on the stream when the position is LATEST', async () => {
    const table = await createTable();
    await put(table.name, 'earlier');
    const target = new FakeFunction();

    // A record written once start() resolved is after the starting position.
    await startPoller(table.streamArn, target, { startingPosition: 'LATEST' });
    await put(table.name, 'later');
    await waitFor(() => target.keys().includes('later'), {
      timeoutMs: 5_000,
      what: 'the record written after the start',
    });

    expect(target.keys()).toEqual(['later']);
  });

  it('drops the records the filter criteria reject', async () => {
    const table = await createTable();
    const target = new FakeFunction();
    await startPoller(table.streamArn, target, { filters: PROFILE_ONLY });

    await put(table.name, 'a');
    await put(table.name, 'a', 'NOTIFICATION#WELCOME');
    await put(table.name, 'last');
    await waitFor(() => target.keys().includes('last'), {
      timeoutMs: 15_000,
      what: 'the last profile record',
    });

    expect(target.batches.flat().map((r) => r.dynamodb?.Keys?.sk?.S)).toEqual([
      'PROFILE',
      'PROFILE',
    ]);
  });

  it('applies new settings from the next batch on, where it was in the stream', async () => {
    const table = await createTable();
    const target = new FakeFunction();
    const poller = await startPoller(table.streamArn, target, { filters: PROFILE_ONLY });
    await put(table.name, 'before');
    await waitFor(() => target.keys().includes('before'), {
      timeoutMs: 15_000,
      what: 'the first record',
    });

    poller.updateSettings(settingsFor(table.streamArn));
    await put(table.name, 'after', 'NOTIFICATION#WELCOME');
    await waitFor(() => target.keys().includes('after'), {
      timeoutMs: 15_000,
      what: 'the record the old filter would drop',
    });

    // Read on from where it was: the first record is not delivered again.
    expect(target.keys()).toEqual(['before', 'after']);
  });

  it('retries a partially failed batch from the first reported record', async () => {
    const table = await createTable();
    for (const pk of ['r0', 'r1', 'r2', 'r3']) await put(table.name, pk);
    const target = new FakeFunction((records, call) =>
      call === 1
        ? {
            ok: true,
            payload: {
              batchItemFailures: [{ itemIdentifier: records[2]?.dynamodb?.SequenceNumber }],
            },
          }
        : { ok: true, payload: { batchItemFailures: [] } },
    );

    await startPoller(table.streamArn, target, { reportBatchItemFailures: true });
    await waitFor(() => target.batches.length >= 2, { timeoutMs: 15_000, what: 'the retry' });

    expect(target.batches.map((batch) => batch.map(pkOf))).toEqual([
      ['r0', 'r1', 'r2', 'r3'],
      ['r2', 'r3'],
    ]);
  });

  it('bisects a batch on a function error until the failing record is alone', async () => {
    const table = await createTable();
    const destination = await createDestination();
    for (const pk of ['g0', 'g1', 'bad', 'g3']) await put(table.name, pk);
    const target = new FakeFunction((records) =>
      hasKey(records, 'bad') ? functionError : { ok: true, payload: null },
    );

    await startPoller(table.streamArn, target, {
      bisectBatchOnFunctionError: true,
      maximumRetryAttempts: 2,
      onFailure: { arn: destination.arn, queueUrl: destination.url },
    });
    const [discarded] = await receiveAll(destination.url, 1);

    expect(target.batches.map((batch) => batch.map(pkOf))).toEqual([
      ['g0', 'g1', 'bad', 'g3'],
      ['g0', 'g1'],
      ['bad', 'g3'],
      ['bad'],
      ['g3'],
    ]);
    expect(JSON.parse(discarded?.Body ?? '{}')).toEqual(
      expect.objectContaining({
        DDBStreamBatchInfo: expect.objectContaining({ batchSize: 1 }),
      }),
    );
  });

  it('sends one invocation record to the on-failure queue when retries run out, then moves on', async () => {
    const table = await createTable();
    const destination = await createDestination();
    for (const pk of ['bad1', 'bad2', 'good']) await put(table.name, pk);
    const target = new FakeFunction((records) =>
      hasKey(records, 'good') ? { ok: true, payload: null } : functionError,
    );

    await startPoller(table.streamArn, target, {
      batchSize: 2,
      maximumRetryAttempts: 2,
      onFailure: { arn: destination.arn, queueUrl: destination.url },
    });
    await waitFor(() => target.keys().includes('good'), {
      timeoutMs: 15_000,
      what: 'the record after the failing batch',
    });
    const messages = await receiveAll(destination.url, 1);

    const failing = target.batches[0] ?? [];
    expect(target.batches.map((batch) => batch.map(pkOf))).toEqual([
      ['bad1', 'bad2'],
      ['bad1', 'bad2'],
      ['bad1', 'bad2'],
      ['good'],
    ]);
    expect(messages).toHaveLength(1);
    expect(JSON.parse(messages[0]?.Body ?? '{}')).toEqual(
      expect.objectContaining({
        requestContext: expect.objectContaining({
          functionArn: FUNCTION_ARN,
          condition: 'RetryAttemptsExhausted',
          approximateInvokeCount: 3,
        }),
        DDBStreamBatchInfo: expect.objectContaining({
          startSequenceNumber: failing[0]?.dynamodb?.SequenceNumber,
          endSequenceNumber: failing[1]?.dynamodb?.SequenceNumber,
          batchSize: 2,
          streamArn: table.streamArn,
        }),
      }),
    );
    // Nothing else arrives later: the batch was given up on once.
    const later = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: destination.url, WaitTimeSeconds: 1 }),
    );
    expect(later.Messages ?? []).toEqual([]);
  });

  it('sends records older than the maximum record age to the destination instead of retrying', async () => {
    const table = await createTable();
    const destination = await createDestination();
    await put(table.name, 'old');
    const target = new FakeFunction(() => functionError);

    await startPoller(table.streamArn, target, {
      maximumRecordAgeSeconds: 1,
      onFailure: { arn: destination.arn, queueUrl: destination.url },
    });
    const [discarded] = await receiveAll(destination.url, 1);

    expect(JSON.parse(discarded?.Body ?? '{}')).toEqual(
      expect.objectContaining({
        requestContext: expect.objectContaining({ condition: 'RecordAgeExceeded' }),
        DDBStreamBatchInfo: expect.objectContaining({ batchSize: 1 }),
      }),
    );
  });

  it('writes what it gives up on to an S3 destination as AWS documents: the invocation record, the records as payload', async () => {
    const table = await createTable();
    tableCount += 1;
    const bucket = `on-failure-${tableCount}-${Date.now()}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    for (const pk of ['bad1', 'bad2']) await put(table.name, pk);
    const target = new FakeFunction(() => functionError);

    await startPoller(table.streamArn, target, {
      maximumRecordAgeSeconds: 1,
      onFailure: { arn: `arn:aws:s3:::${bucket}`, bucket },
    });
    let keys: string[] = [];
    await waitFor(
      async () => {
        const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
        keys = (listed.Contents ?? []).map((object) => object.Key ?? '');
        return keys.length > 0;
      },
      { timeoutMs: 20_000, what: 'an object in the on-failure bucket' },
    );

    expect(keys).toHaveLength(1);
    // aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>
    expect(keys[0]).toMatch(
      new RegExp(
        `^aws/lambda/${MAPPING_ID}/[^/]+/\\d{4}/\\d{2}/\\d{2}/\\d{4}-\\d{2}-\\d{2}T\\d{2}\\.\\d{2}\\.\\d{2}-[0-9a-f-]{36}$`,
      ),
    );
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: keys[0] ?? '' }));
    const record = JSON.parse((await object.Body?.transformToString()) ?? '{}');
    expect(record).toEqual(
      expect.objectContaining({
        requestContext: expect.objectContaining({
          functionArn: FUNCTION_ARN,
          condition: 'RecordAgeExceeded',
        }),
        version: '1.0',
        DDBStreamBatchInfo: expect.objectContaining({ batchSize: 2, streamArn: table.streamArn }),
        payload: expect.any(String),
      }),
    );
    // The payload is the event as the function was given it.
    const payload = JSON.parse(record.payload) as DynamoDBStreamEvent;
    expect(payload.Records.map(pkOf)).toEqual(['bad1', 'bad2']);
    expect(payload.Records[0]?.eventSourceARN).toBe(table.streamArn);
    expect(keys[0]).toContain(`/${record.DDBStreamBatchInfo.shardId}/`);
  });

  it('keeps reading the stream after a failed TransactWriteItems, and never delivers its write', async () => {
    const table = await createTable();
    const target = new FakeFunction();
    await startPoller(table.streamArn, target);
    await put(table.name, 'before');
    await waitFor(() => target.keys().includes('before'), {
      timeoutMs: 15_000,
      what: 'the first record',
    });

    await expect(
      dynamodb.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Put: {
                TableName: table.name,
                Item: { pk: { S: 'rolled-back' }, sk: { S: 'PROFILE' } },
              },
            },
            {
              ConditionCheck: {
                TableName: table.name,
                Key: { pk: { S: 'missing' }, sk: { S: 'PROFILE' } },
                ConditionExpression: 'attribute_exists(pk)',
              },
            },
          ],
        }),
      ),
    ).rejects.toThrow();
    await put(table.name, 'after');
    await waitFor(() => target.keys().includes('after'), {
      timeoutMs: 15_000,
      what: 'the record written after the failed transaction',
    });

    expect(target.keys()).toEqual(['before', 'after']);
  });
});
