import {
  DeleteObjectCommand,
  HeadObjectCommand,
  NotFound,
  PutObjectCommand,
  type PutObjectCommandInput,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import type { CustomerEvent } from '../../lambda/shared/domain/events';
import { captureEmf, metricsEnvironment } from './emf';
import { type WithContext, withContext } from './lambda-context';
import { batch, eventRecord, sqsRecord } from './sqs-fixtures';

const BUCKET = 'assets-bucket';
process.env.BUCKET_NAME = BUCKET;
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
metricsEnvironment('archive');
const emf = captureEmf();

type HandlerModule = typeof import('../../lambda/archive/handler');
let handler: WithContext<HandlerModule['handler']>;

beforeAll(() => {
  // The module reads its environment when it loads, so it is loaded only now.
  handler = withContext(jest.requireActual<HandlerModule>('../../lambda/archive/handler').handler);
});

const s3 = mockClient(S3Client);

afterEach(() => {
  s3.reset();
});

// ---- builders -----------------------------------------------------------------------------

const CUSTOMER_ID = '0b9f6c1e-3f7a-4c2d-9e8b-000000000001';
const KEY = `customers/${CUSTOMER_ID}.json`;

const customerEvent = (
  type: CustomerEvent['type'],
  version: number,
  eventId = `event-${type}-${version}`,
): CustomerEvent => ({
  eventId,
  type,
  occurredAt: '2025-03-04T05:06:07.000Z',
  version,
  customer: {
    id: CUSTOMER_ID,
    fullName: `Ada Lovelace v${version}`,
    email: 'ada@example.com',
    dateOfBirth: '1815-12-10',
    marketingOptIn: false,
    createdAt: '2025-03-04T05:06:07.000Z',
    updatedAt: '2025-03-04T05:06:07.000Z',
    version,
  },
  marketingConsent: 'none',
});

/** S3's 404 for HeadObject; on a key whose current version is a delete marker, with that header. */
const notFound = (deleteMarker = false) =>
  Object.assign(new NotFound({ message: 'Not Found', $metadata: { httpStatusCode: 404 } }), {
    $response: {
      statusCode: 404,
      headers: deleteMarker
        ? { 'x-amz-delete-marker': 'true', 'x-amz-version-id': 'v-marker' }
        : {},
      body: undefined,
    },
  });

/** The archive holds `version` of the customer as its current object. */
const storedVersion = (version: number) =>
  s3.on(HeadObjectCommand, { Bucket: BUCKET, Key: KEY }).resolves({
    ETag: `"etag-v${version}"`,
    Metadata: { version: String(version), 'event-id': `event-${version}` },
  });

/** The current version is the customer's tombstone. */
const tombstoneStored = () =>
  s3.on(HeadObjectCommand, { Bucket: BUCKET, Key: KEY }).resolves({
    ETag: '"etag-tombstone"',
    Metadata: { version: '3', 'event-id': 'event-deleted', deleted: 'true' },
  });

/** Nothing current: the key never held anything, or (`deleted`) its current version is a delete marker. */
const nothingStored = ({ deleted = false } = {}) => {
  s3.on(HeadObjectCommand).rejects(notFound(deleted));
};

const puts = () => s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input);
const deletes = () => s3.commandCalls(DeleteObjectCommand).map((call) => call.args[0].input);

// ---- tests --------------------------------------------------------------------------------

describe('archive consumer', () => {
  it('writes a new customer as JSON with its version and event id, only if the key is free', async () => {
    nothingStored();
    const event = customerEvent('CustomerCreated', 1);

    const response = await handler(batch(eventRecord(event)));

    expect(response).toEqual({ batchItemFailures: [] });
    // The HEAD's 404 tells a free key from a deleted one: no listing of versions.
    expect(s3.calls().map((call) => call.args[0].constructor.name)).toEqual([
      'HeadObjectCommand',
      'PutObjectCommand',
    ]);
    expect(puts()).toEqual([
      {
        Bucket: BUCKET,
        Key: KEY,
        Body: JSON.stringify(event.customer),
        ContentType: 'application/json',
        Metadata: { version: '1', 'event-id': 'event-CustomerCreated-1' },
        IfNoneMatch: '*',
      },
    ]);
    expect(emf.series()).toEqual([
      'ArchiveVersionsWritten{service=archive} 1 Count',
      'RecordsReceived{service=archive,FunctionVersion=7} 1 Count',
      'RecordsReceived{service=archive} 1 Count',
    ]);
  });

  it('writes a newer version over the stored one, only if that is still the stored one', async () => {
    storedVersion(1);

    await handler(batch(eventRecord(customerEvent('CustomerUpdated', 2))));

    expect(puts()).toEqual([
      expect.objectContaining({
        Key: KEY,
        Metadata: { version: '2', 'event-id': 'event-CustomerUpdated-2' },
        IfMatch: '"etag-v1"',
      }),
    ]);
    expect(puts()[0]).not.toHaveProperty('IfNoneMatch');
  });

  it('writes nothing for a duplicate event (the same version is stored)', async () => {
    storedVersion(2);

    const response = await handler(batch(eventRecord(customerEvent('CustomerUpdated', 2))));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(puts()).toEqual([]);
    expect(emf.series()).toEqual([
      'ArchiveStaleEventsIgnored{service=archive} 1 Count',
      'RecordsReceived{service=archive,FunctionVersion=7} 1 Count',
      'RecordsReceived{service=archive} 1 Count',
    ]);
  });

  it('writes nothing for a late event (a newer version is stored)', async () => {
    storedVersion(3);

    const response = await handler(batch(eventRecord(customerEvent('CustomerUpdated', 2))));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(puts()).toEqual([]);
  });

  it('fails the record for a retry when a concurrent write beats the conditional put', async () => {
    storedVersion(1);
    const event = customerEvent('CustomerUpdated', 2);
    const other = customerEvent('CustomerUpdated', 2, 'event-other');
    s3.on(PutObjectCommand).callsFake((input: PutObjectCommandInput) => {
      if (input.Metadata?.['event-id'] === 'event-other') return {};
      throw new S3ServiceException({
        name: 'PreconditionFailed',
        $fault: 'client',
        $metadata: { httpStatusCode: 412 },
        message: 'At least one of the pre-conditions you specified did not hold',
      });
    });

    const response = await handler(batch(eventRecord(event), eventRecord(other)));

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: `msg-${event.eventId}` }] });
    // The loser of the race is Busy; the winner's write is counted.
    expect(emf.series()).toEqual([
      'ArchiveVersionsWritten{service=archive} 1 Count',
      'RecordsFailed{service=archive,FunctionVersion=7} 1 Count',
      'RecordsFailed{service=archive,reason=Busy} 1 Count',
      'RecordsFailed{service=archive} 1 Count',
      'RecordsReceived{service=archive,FunctionVersion=7} 2 Count',
      'RecordsReceived{service=archive} 2 Count',
    ]);
  });

  it('ends the history with a tombstone version over the stored one, only if that is still the stored one', async () => {
    storedVersion(2);
    const event = customerEvent('CustomerDeleted', 2);

    const response = await handler(batch(eventRecord(event)));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(deletes()).toEqual([]);
    expect(puts()).toEqual([
      {
        Bucket: BUCKET,
        Key: KEY,
        // No personal data: the earlier versions keep the history.
        Body: JSON.stringify({
          id: CUSTOMER_ID,
          deleted: true,
          deletedAt: event.occurredAt,
          version: 3,
        }),
        ContentType: 'application/json',
        Metadata: { version: '3', 'event-id': 'event-CustomerDeleted-2', deleted: 'true' },
        IfMatch: '"etag-v2"',
      },
    ]);
  });

  it('writes the tombstone even when nothing was archived, so a late creation stays out', async () => {
    nothingStored();

    await handler(batch(eventRecord(customerEvent('CustomerDeleted', 1))));

    expect(puts()).toEqual([
      expect.objectContaining({ Key: KEY, Metadata: expect.objectContaining({ deleted: 'true' }) }),
    ]);
    expect(puts()[0]?.IfNoneMatch).toBe('*');
  });

  it.each([
    ['a tombstone version', () => tombstoneStored()],
    ['a delete marker (deleted before tombstones)', () => nothingStored({ deleted: true })],
  ])('writes nothing again when the current version is %s', async (_, given) => {
    given();

    const response = await handler(batch(eventRecord(customerEvent('CustomerDeleted', 2))));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(puts()).toEqual([]);
    expect(deletes()).toEqual([]);
  });

  it('writes no tombstone when a newer version than the deleted one is stored', async () => {
    storedVersion(3);

    const response = await handler(batch(eventRecord(customerEvent('CustomerDeleted', 2))));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(puts()).toEqual([]);
  });

  it.each([
    ['a tombstone version', () => tombstoneStored()],
    ['a delete marker (deleted before tombstones)', () => nothingStored({ deleted: true })],
  ])(
    'never brings a deleted customer back for a late creation or update over %s',
    async (_, given) => {
      given();

      const response = await handler(
        batch(
          eventRecord(customerEvent('CustomerCreated', 1)),
          eventRecord(customerEvent('CustomerUpdated', 2)),
        ),
      );

      expect(response).toEqual({ batchItemFailures: [] });
      expect(puts()).toEqual([]);
    },
  );

  it('fails the record for a retry when S3 answers the HEAD with anything but 404', async () => {
    s3.on(HeadObjectCommand).rejects(
      Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: {} }),
    );

    // A whole batch failing throws, so Lambda returns every message to the queue.
    await expect(handler(batch(eventRecord(customerEvent('CustomerCreated', 1))))).rejects.toThrow(
      /All records failed/,
    );
    expect(puts()).toEqual([]);
  });

  it('fails only the malformed messages of a batch and archives the others', async () => {
    nothingStored();
    const first = customerEvent('CustomerCreated', 1, 'event-first');
    const second = customerEvent('CustomerCreated', 1, 'event-second');

    const response = await handler(
      batch(
        eventRecord(first),
        sqsRecord('msg-not-json', '{"eventId": '),
        sqsRecord('msg-not-an-event', JSON.stringify({ ...first, version: 0 })),
        eventRecord(second),
      ),
    );

    expect(response).toEqual({
      batchItemFailures: [
        { itemIdentifier: 'msg-not-json' },
        { itemIdentifier: 'msg-not-an-event' },
      ],
    });
    expect(puts().map((input) => input.Metadata?.['event-id'])).toEqual([
      'event-first',
      'event-second',
    ]);
  });
});
