import type { AttributeValue as SdkAttributeValue } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, type PutObjectCommandInput, S3Client } from '@aws-sdk/client-s3';
import {
  PublishBatchCommand,
  type PublishBatchCommandInput,
  type PublishBatchRequestEntry,
  SNSClient,
} from '@aws-sdk/client-sns';
import { marshall } from '@aws-sdk/util-dynamodb';
import type {
  Context,
  DynamoDBRecord,
  DynamoDBStreamEvent,
  AttributeValue as StreamAttributeValue,
} from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import type { Customer } from '../../lambda/shared/domain/customer';
import { customerPk, emailClaimKey, PROFILE_SK } from '../../lambda/shared/domain/keys';
import { captureEmf, metricsEnvironment } from './emf';
import { type WithContext, withContext } from './lambda-context';

const TOPIC_ARN = 'arn:aws:sns:eu-west-1:123456789012:customer-events';
const FAILURE_BUCKET = 'stream-failures';
const FUNCTION_ARN = 'arn:aws:lambda:eu-west-1:123456789012:function:stream-publisher';
process.env.TOPIC_ARN = TOPIC_ARN;
process.env.FAILURE_BUCKET_NAME = FAILURE_BUCKET;
metricsEnvironment('stream-publisher');
const emf = captureEmf();

/** The publisher's datapoints, with the service left out for brevity. */
const metricSeries = () =>
  emf.series().map((line) => line.replace('service=stream-publisher', 's'));

type HandlerModule = typeof import('../../lambda/stream-publisher/handler');
let handler: WithContext<HandlerModule['handler']>;

beforeAll(() => {
  // The module reads TOPIC_ARN when it loads, so it is loaded only now. (A dynamic `import()`
  // would need a `.js` extension under NodeNext, which jest does not map back to `.ts`.)
  handler = withContext(
    jest.requireActual<HandlerModule>('../../lambda/stream-publisher/handler').handler,
  );
});

const sns = mockClient(SNSClient);
const s3 = mockClient(S3Client);

afterEach(() => {
  sns.reset();
  s3.reset();
  jest.restoreAllMocks();
});

// ---- builders -----------------------------------------------------------------------------

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

/** marshall's output, typed as the Lambda event types it (they differ only for binary values). */
const streamImage = (item: Record<string, unknown>): Record<string, StreamAttributeValue> =>
  marshall(item, { removeUndefinedValues: true }) as Record<string, SdkAttributeValue> as Record<
    string,
    StreamAttributeValue
  >;

const profileImage = (c: Customer) => streamImage({ pk: customerPk(c.id), sk: PROFILE_SK, ...c });

const sequenceNumber = (n: number): string => `4${String(n).padStart(20, '0')}`;
const CREATED_AT_SECONDS = 1_741_064_767; // 2025-03-04T05:06:07Z

interface Images {
  readonly oldImage?: Customer;
  readonly newImage?: Customer;
}

const streamRecord = (
  n: number,
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE',
  { oldImage, newImage }: Images,
  key = { pk: customerPk((newImage ?? oldImage ?? customer(n)).id), sk: PROFILE_SK },
): DynamoDBRecord => ({
  eventID: `stream-event-${n}`,
  eventName,
  eventSource: 'aws:dynamodb',
  eventVersion: '1.1',
  awsRegion: 'eu-west-1',
  dynamodb: {
    ApproximateCreationDateTime: CREATED_AT_SECONDS + n,
    Keys: streamImage(key),
    ...(newImage && { NewImage: profileImage(newImage) }),
    ...(oldImage && { OldImage: profileImage(oldImage) }),
    SequenceNumber: sequenceNumber(n),
    SizeBytes: 512,
    StreamViewType: 'NEW_AND_OLD_IMAGES',
  },
});

const inserted = (n: number, changes: Partial<Customer> = {}) =>
  streamRecord(n, 'INSERT', { newImage: customer(n, changes) });

const streamEvent = (...records: DynamoDBRecord[]): DynamoDBStreamEvent => ({ Records: records });

// ---- SNS helpers --------------------------------------------------------------------------

const publishCalls = (): PublishBatchCommandInput[] =>
  sns.commandCalls(PublishBatchCommand).map((call) => call.args[0].input);

const entriesOf = (input: PublishBatchCommandInput | undefined): PublishBatchRequestEntry[] =>
  input?.PublishBatchRequestEntries ?? [];

const messagesOf = (input: PublishBatchCommandInput | undefined): Record<string, unknown>[] =>
  entriesOf(input).map((entry) => JSON.parse(entry.Message ?? 'null'));

const publishedEventIds = (): string[] =>
  publishCalls().flatMap((input) => messagesOf(input).map((message) => String(message.eventId)));

/** SNS confirms every entry it is sent. */
const snsAcceptsAll = () =>
  sns.on(PublishBatchCommand).callsFake((input: PublishBatchCommandInput) => ({
    Successful: entriesOf(input).map((entry) => ({ Id: entry.Id, MessageId: `msg-${entry.Id}` })),
    Failed: [],
  }));

const failuresFrom = (first: number, last: number) =>
  Array.from({ length: last - first + 1 }, (_, i) => ({
    itemIdentifier: sequenceNumber(first + i),
  }));

const range = (count: number) => Array.from({ length: count }, (_, i) => i);

// ---- tests --------------------------------------------------------------------------------

describe('stream publisher', () => {
  it('publishes an INSERT as CustomerCreated with the MessageType attribute', async () => {
    snsAcceptsAll();
    const created = customer(0, { marketingOptIn: true });

    const result = await handler(streamEvent(streamRecord(0, 'INSERT', { newImage: created })));

    expect(result).toStrictEqual({ batchItemFailures: [] });
    expect(publishCalls()).toStrictEqual([
      {
        TopicArn: TOPIC_ARN,
        PublishBatchRequestEntries: [
          {
            Id: '0',
            Message: expect.any(String),
            MessageAttributes: {
              MessageType: { DataType: 'String', StringValue: 'CustomerCreated' },
            },
          },
        ],
      },
    ]);
    // The stored item's keys are not part of the customer the event carries.
    expect(messagesOf(publishCalls()[0])).toStrictEqual([
      {
        eventId: 'stream-event-0',
        type: 'CustomerCreated',
        occurredAt: '2025-03-04T05:06:07.000Z',
        version: 1,
        customer: created,
        marketingConsent: 'granted',
      },
    ]);
  });

  it('publishes a MODIFY as CustomerUpdated with the previous customer', async () => {
    snsAcceptsAll();
    const before = customer(1, { marketingOptIn: true });
    const after = customer(1, {
      fullName: 'Augusta Ada King',
      marketingOptIn: false,
      updatedAt: '2025-02-02T00:00:00.000Z',
      version: 2,
    });

    await handler(streamEvent(streamRecord(1, 'MODIFY', { oldImage: before, newImage: after })));

    expect(entriesOf(publishCalls()[0])[0]?.MessageAttributes).toStrictEqual({
      MessageType: { DataType: 'String', StringValue: 'CustomerUpdated' },
    });
    expect(messagesOf(publishCalls()[0])).toStrictEqual([
      {
        eventId: 'stream-event-1',
        type: 'CustomerUpdated',
        occurredAt: '2025-03-04T05:06:08.000Z',
        version: 2,
        customer: after,
        previous: before,
        marketingConsent: 'revoked',
      },
    ]);
  });

  it('publishes a REMOVE as CustomerDeleted with the last stored customer', async () => {
    snsAcceptsAll();
    const removed = customer(2, { marketingOptIn: true, version: 3 });

    await handler(streamEvent(streamRecord(2, 'REMOVE', { oldImage: removed })));

    expect(entriesOf(publishCalls()[0])[0]?.MessageAttributes).toStrictEqual({
      MessageType: { DataType: 'String', StringValue: 'CustomerDeleted' },
    });
    expect(messagesOf(publishCalls()[0])).toStrictEqual([
      {
        eventId: 'stream-event-2',
        type: 'CustomerDeleted',
        occurredAt: '2025-03-04T05:06:09.000Z',
        version: 3,
        customer: removed,
        marketingConsent: 'revoked',
      },
    ]);
  });

  it('publishes the same event, with the same eventId, when a record is retried', async () => {
    snsAcceptsAll();
    const record = inserted(7);

    await handler(streamEvent(record));
    await handler(streamEvent(record));

    const [first, retry] = publishCalls().map((input) => entriesOf(input)[0]?.Message);
    expect(first).toBeDefined();
    expect(retry).toBe(first);
    expect(publishedEventIds()).toStrictEqual(['stream-event-7', 'stream-event-7']);
  });

  it('uses the time of invocation when the record has no creation time', async () => {
    snsAcceptsAll();
    const record = inserted(0);
    delete record.dynamodb?.ApproximateCreationDateTime;

    const before = Date.now();
    await handler(streamEvent(record));
    const after = Date.now();

    const occurredAt = Date.parse(String(messagesOf(publishCalls()[0])[0]?.occurredAt));
    expect(occurredAt).toBeGreaterThanOrEqual(before);
    expect(occurredAt).toBeLessThanOrEqual(after);
  });

  it('publishes 23 records in 3 PublishBatch calls of 10, 10 and 3, in stream order', async () => {
    snsAcceptsAll();
    const records = range(23).map((n) => inserted(n));

    const result = await handler(streamEvent(...records));

    expect(result).toStrictEqual({ batchItemFailures: [] });
    const calls = publishCalls();
    expect(calls.map((input) => entriesOf(input).length)).toStrictEqual([10, 10, 3]);
    expect(calls.every((input) => input.TopicArn === TOPIC_ARN)).toBe(true);
    expect(calls.flatMap((input) => entriesOf(input).map((entry) => entry.Id))).toStrictEqual(
      range(23).map(String),
    );
    expect(publishedEventIds()).toStrictEqual(range(23).map((n) => `stream-event-${n}`));
    expect(metricSeries()).toEqual([
      'EventsPublished{s} 23 Count',
      'RecordsReceived{s,FunctionVersion=7} 23 Count',
      'RecordsReceived{s} 23 Count',
    ]);
  });

  it('publishes nothing for a MODIFY that changed only version and updatedAt', async () => {
    snsAcceptsAll();
    const before = customer(3);
    const touched = customer(3, { updatedAt: '2025-02-02T00:00:00.000Z', version: 2 });

    const result = await handler(
      streamEvent(streamRecord(3, 'MODIFY', { oldImage: before, newImage: touched })),
    );

    expect(result).toStrictEqual({ batchItemFailures: [] });
    expect(publishCalls()).toHaveLength(0);
  });

  it('skips a bookkeeping-only MODIFY between records it publishes', async () => {
    snsAcceptsAll();
    const before = customer(1);
    const touched = customer(1, { updatedAt: '2025-02-02T00:00:00.000Z', version: 2 });

    const result = await handler(
      streamEvent(
        inserted(0),
        streamRecord(1, 'MODIFY', { oldImage: before, newImage: touched }),
        inserted(2),
      ),
    );

    expect(result).toStrictEqual({ batchItemFailures: [] });
    expect(publishedEventIds()).toStrictEqual(['stream-event-0', 'stream-event-2']);
  });

  it('skips a record that is not a profile item', async () => {
    snsAcceptsAll();
    const claim = streamRecord(1, 'INSERT', {}, emailClaimKey('ada1@example.com'));
    if (claim.dynamodb) {
      claim.dynamodb.NewImage = streamImage({
        ...emailClaimKey('ada1@example.com'),
        customerId: customer(1).id,
      });
    }

    const result = await handler(streamEvent(inserted(0), claim, inserted(2)));

    expect(result).toStrictEqual({ batchItemFailures: [] });
    expect(publishedEventIds()).toStrictEqual(['stream-event-0', 'stream-event-2']);
  });

  it('returns no failures and calls SNS not at all for an empty batch', async () => {
    snsAcceptsAll();

    await expect(handler(streamEvent())).resolves.toStrictEqual({ batchItemFailures: [] });
    expect(publishCalls()).toHaveLength(0);
  });

  it('on a failed entry in the 2nd call, reports it and every later record, and stops', async () => {
    const records = range(25).map((n) => inserted(n));
    sns
      .on(PublishBatchCommand)
      .resolvesOnce({ Successful: range(10).map((n) => ({ Id: String(n) })), Failed: [] })
      .resolvesOnce({
        // Entries after the failed one were delivered; they are reported all the same.
        Successful: [10, 11, 12, 14, 15, 16, 17, 18, 19].map((n) => ({ Id: String(n) })),
        Failed: [{ Id: '13', Code: 'InternalError', SenderFault: false }],
      })
      .resolves({ Successful: range(25).map((n) => ({ Id: String(n) })), Failed: [] });

    const result = await handler(streamEvent(...records));

    expect(result).toStrictEqual({ batchItemFailures: failuresFrom(13, 24) });
    expect(publishCalls().map((input) => entriesOf(input).length)).toStrictEqual([10, 10]);
    // SNS's own failure; the 11 after it held back (those it delivered are counted published).
    expect(metricSeries()).toEqual([
      'EventsPublished{s} 19 Count',
      'RecordsFailed{s,FunctionVersion=7} 12 Count',
      'RecordsFailed{s,reason=HeldBehindFailure} 11 Count',
      'RecordsFailed{s,reason=Unavailable} 1 Count',
      'RecordsFailed{s} 12 Count',
      'RecordsReceived{s,FunctionVersion=7} 25 Count',
      'RecordsReceived{s} 25 Count',
    ]);
  });

  it('publishes again, with the same eventIds, the entries SNS delivered after a failed one', async () => {
    const records = range(4).map((n) => inserted(n));
    sns
      .on(PublishBatchCommand)
      .resolvesOnce({
        Successful: [0, 2, 3].map((n) => ({ Id: String(n) })),
        Failed: [{ Id: '1', Code: 'Throttled', SenderFault: false }],
      })
      .resolves({ Successful: range(4).map((n) => ({ Id: String(n) })), Failed: [] });

    const first = await handler(streamEvent(...records));
    // Lambda retries from the first reported record.
    const retry = await handler(streamEvent(...records.slice(1)));

    expect(first).toStrictEqual({ batchItemFailures: failuresFrom(1, 3) });
    expect(retry).toStrictEqual({ batchItemFailures: [] });
    // 2 and 3 reach the topic twice, and after 1's first attempt: consumers see duplicates
    // and an order that is not the stream's.
    expect(publishedEventIds()).toStrictEqual([
      'stream-event-0',
      'stream-event-1',
      'stream-event-2',
      'stream-event-3',
      'stream-event-1',
      'stream-event-2',
      'stream-event-3',
    ]);
  });

  it('treats an entry SNS neither confirmed nor failed as failed', async () => {
    sns.on(PublishBatchCommand).resolves({
      Successful: [{ Id: '0' }, { Id: '2' }],
      Failed: [],
    });

    const result = await handler(streamEvent(inserted(0), inserted(1), inserted(2)));

    expect(result).toStrictEqual({ batchItemFailures: failuresFrom(1, 2) });
  });

  it('when PublishBatch throws, reports every record from the first entry of that call', async () => {
    const records = range(25).map((n) => inserted(n));
    sns
      .on(PublishBatchCommand)
      .resolvesOnce({ Successful: range(10).map((n) => ({ Id: String(n) })), Failed: [] })
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottledException' }));

    const result = await handler(streamEvent(...records));

    expect(result).toStrictEqual({ batchItemFailures: failuresFrom(10, 24) });
    expect(publishCalls()).toHaveLength(2);
    expect(metricSeries()).toEqual([
      'EventsPublished{s} 10 Count',
      'RecordsFailed{s,FunctionVersion=7} 15 Count',
      'RecordsFailed{s,reason=Busy} 1 Count',
      'RecordsFailed{s,reason=HeldBehindFailure} 14 Count',
      'RecordsFailed{s} 15 Count',
      'RecordsReceived{s,FunctionVersion=7} 25 Count',
      'RecordsReceived{s} 25 Count',
    ]);
  });

  describe('a record it can never publish', () => {
    const withoutNewImage = (): DynamoDBRecord => {
      const record = inserted(2);
      delete record.dynamodb?.NewImage;
      return record;
    };
    const failingTheSchema = (): DynamoDBRecord => inserted(2, { version: 0 });
    const withoutEventId = (): DynamoDBRecord => ({ ...inserted(2), eventID: undefined });
    const modifyWithoutOldImage = (): DynamoDBRecord =>
      streamRecord(2, 'MODIFY', { newImage: customer(2, { version: 2 }) });
    const context = {
      awsRequestId: 'request-1',
      invokedFunctionArn: FUNCTION_ARN,
      functionVersion: '$LATEST',
    } as Context;

    const putCalls = (): PutObjectCommandInput[] =>
      s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input);
    const bodyOf = (input: PutObjectCommandInput | undefined) =>
      JSON.parse(String(input?.Body ?? 'null'));

    it.each([
      ['a missing NewImage', withoutNewImage, /NewImage is missing/],
      ['an image that fails the customer schema', failingTheSchema, /NewImage is not a customer/],
      ['a missing eventID', withoutEventId, /eventID is missing/],
      ['a MODIFY without its OldImage', modifyWithoutOldImage, /OldImage is missing/],
    ])(
      'with %s: writes it, payload and all, to the failure bucket, and publishes the others',
      async (_name, malformed, reason) => {
        snsAcceptsAll();
        s3.on(PutObjectCommand).resolves({});
        const record = malformed();

        const result = await handler(
          streamEvent(inserted(0), inserted(1), record, inserted(3), inserted(4)),
          context,
        );

        // Not retried: it would block its shard until the record age ran out.
        expect(result).toStrictEqual({ batchItemFailures: [] });
        expect(publishedEventIds()).toStrictEqual([
          'stream-event-0',
          'stream-event-1',
          'stream-event-3',
          'stream-event-4',
        ]);
        expect(putCalls()).toStrictEqual([
          {
            Bucket: FAILURE_BUCKET,
            Key: `unpublishable/${sequenceNumber(2)}`,
            Body: expect.any(String),
            ContentType: 'application/json',
          },
        ]);
        // Lambda's own on-failure record, and the record itself as the payload.
        const body = bodyOf(putCalls()[0]);
        expect(body).toEqual({
          requestContext: {
            requestId: 'request-1',
            functionArn: FUNCTION_ARN,
            condition: 'Unpublishable',
            approximateInvokeCount: 1,
          },
          responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: '' },
          version: '1.0',
          timestamp: expect.any(String),
          DDBStreamBatchInfo: {
            startSequenceNumber: sequenceNumber(2),
            endSequenceNumber: sequenceNumber(2),
            approximateArrivalOfFirstRecord: '2025-03-04T05:06:09.000Z',
            approximateArrivalOfLastRecord: '2025-03-04T05:06:09.000Z',
            batchSize: 1,
          },
          reason: expect.stringMatching(reason),
          payload: expect.any(String),
        });
        expect(JSON.parse(body.payload)).toEqual({ Records: [JSON.parse(JSON.stringify(record))] });
        // Given up on, so counted failed, though not reported.
        expect(metricSeries()).toEqual([
          'EventsPublished{s} 4 Count',
          'RecordsFailed{s,FunctionVersion=7} 1 Count',
          'RecordsFailed{s,reason=Unpublishable} 1 Count',
          'RecordsFailed{s} 1 Count',
          'RecordsReceived{s,FunctionVersion=7} 5 Count',
          'RecordsReceived{s} 5 Count',
        ]);
      },
    );

    it('writes each of several to its own object, keyed by sequence number', async () => {
      snsAcceptsAll();
      s3.on(PutObjectCommand).resolves({});
      const second = inserted(3, { version: 0 });

      const result = await handler(streamEvent(withoutNewImage(), second, inserted(4)), context);

      expect(result).toStrictEqual({ batchItemFailures: [] });
      expect(putCalls().map((input) => input.Key)).toStrictEqual([
        `unpublishable/${sequenceNumber(2)}`,
        `unpublishable/${sequenceNumber(3)}`,
      ]);
      expect(publishedEventIds()).toStrictEqual(['stream-event-4']);
    });

    it('when the bucket refuses it, reports it and every later one, publishing only those before', async () => {
      snsAcceptsAll();
      s3.on(PutObjectCommand).rejects(
        Object.assign(new Error('Please reduce your request rate.'), { name: 'SlowDown' }),
      );

      const result = await handler(
        streamEvent(inserted(0), withoutNewImage(), inserted(3)),
        context,
      );

      expect(result).toStrictEqual({ batchItemFailures: failuresFrom(2, 3) });
      expect(publishedEventIds()).toStrictEqual(['stream-event-0']);
      expect(metricSeries()).toEqual([
        'EventsPublished{s} 1 Count',
        'RecordsFailed{s,FunctionVersion=7} 2 Count',
        'RecordsFailed{s,reason=Busy} 1 Count',
        'RecordsFailed{s,reason=HeldBehindFailure} 1 Count',
        'RecordsFailed{s} 2 Count',
        'RecordsReceived{s,FunctionVersion=7} 3 Count',
        'RecordsReceived{s} 3 Count',
      ]);
    });

    it('when a publish before it fails, reports both; the retry writes the same object again', async () => {
      s3.on(PutObjectCommand).resolves({});
      sns.on(PublishBatchCommand).resolves({
        Successful: [],
        Failed: [{ Id: '0', Code: 'Throttled', SenderFault: false }],
      });

      const result = await handler(streamEvent(inserted(0), withoutNewImage()), context);

      expect(result).toStrictEqual({
        batchItemFailures: [
          { itemIdentifier: sequenceNumber(0) },
          { itemIdentifier: sequenceNumber(2) },
        ],
      });
      // The key is the record's: its retry overwrites this object, never adds a second one.
      expect(putCalls().map((input) => input.Key)).toEqual([`unpublishable/${sequenceNumber(2)}`]);
      // The written record is reported failed, so counted held back, not unpublishable (yet).
      expect(metricSeries()).toEqual([
        'RecordsFailed{s,FunctionVersion=7} 2 Count',
        'RecordsFailed{s,reason=Busy} 1 Count',
        'RecordsFailed{s,reason=HeldBehindFailure} 1 Count',
        'RecordsFailed{s} 2 Count',
        'RecordsReceived{s,FunctionVersion=7} 2 Count',
        'RecordsReceived{s} 2 Count',
      ]);
    });
  });

  describe('logging a failure', () => {
    const captureLogs = (): (() => string) => {
      const chunks: string[] = [];
      const capture = (chunk: string | Uint8Array): boolean => {
        chunks.push(String(chunk));
        return true;
      };
      jest.spyOn(process.stdout, 'write').mockImplementation(capture);
      jest.spyOn(process.stderr, 'write').mockImplementation(capture);
      return () => chunks.join('');
    };

    it('names the sequence number and object of a malformed record but never its email or name', async () => {
      snsAcceptsAll();
      s3.on(PutObjectCommand).resolves({});
      const logs = captureLogs();

      await handler(streamEvent(inserted(5, { version: 0, email: 'not-an-email-but-pii@x.org' })));

      expect(logs()).toContain(sequenceNumber(5));
      expect(logs()).toContain('version');
      expect(logs()).toContain(`unpublishable/${sequenceNumber(5)}`);
      expect(logs()).not.toContain('not-an-email-but-pii@x.org');
      expect(logs()).not.toContain('Ada Lovelace');
    });

    it('names the sequence number of a failed publish but never the email or name', async () => {
      sns.on(PublishBatchCommand).resolves({
        Successful: [],
        Failed: [{ Id: '0', Code: 'InternalError', SenderFault: false, Message: 'boom' }],
      });
      const logs = captureLogs();

      await handler(streamEvent(inserted(5)));

      expect(logs()).toContain(sequenceNumber(5));
      expect(logs()).toContain('InternalError');
      expect(logs()).not.toContain('ada5@example.com');
      expect(logs()).not.toContain('Ada Lovelace');
    });
  });
});
