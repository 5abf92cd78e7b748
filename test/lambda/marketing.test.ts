import {
  ConditionalCheckFailedException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  PutCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import type { CustomerEvent } from '../../lambda/shared/domain/events';
import { marketingConsentKey, profileKey } from '../../lambda/shared/domain/keys';
import { captureEmf, metricsEnvironment } from './emf';
import { type WithContext, withContext } from './lambda-context';
import { batch, eventRecord, sqsRecord } from './sqs-fixtures';

const BUCKET = 'marketing-contacts-bucket';
const TABLE_NAME = 'customers';
// The template gives marketing the contacts bucket and nothing of the assets bucket.
delete process.env.BUCKET_NAME;
process.env.CONTACTS_BUCKET_NAME = BUCKET;
process.env.TABLE_NAME = TABLE_NAME;
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
metricsEnvironment('marketing');
const emf = captureEmf();

type HandlerModule = typeof import('../../lambda/marketing/handler');
let handler: WithContext<HandlerModule['handler']>;

beforeAll(() => {
  // The module reads its environment when it loads, so it is loaded only now.
  handler = withContext(
    jest.requireActual<HandlerModule>('../../lambda/marketing/handler').handler,
  );
});

const ddb = mockClient(DynamoDBDocumentClient);
const s3 = mockClient(S3Client);

// ---- builders -----------------------------------------------------------------------------

const CUSTOMER_ID = '0b9f6c1e-3f7a-4c2d-9e8b-000000000001';
const KEY = `contacts/${CUSTOMER_ID}.json`;
const GUARD_KEY = marketingConsentKey(CUSTOMER_ID);
const PROFILE_KEY = profileKey(CUSTOMER_ID);

interface Stored {
  readonly consent: 'granted' | 'revoked';
  readonly version: number;
  readonly deleted?: boolean;
}

/** What the consistent read of the consent record and the profile finds. */
const tableHolds = ({
  record,
  customerExists = true,
}: {
  record?: Stored;
  customerExists?: boolean;
} = {}) =>
  ddb.on(BatchGetCommand).resolves({
    Responses: {
      [TABLE_NAME]: [
        ...(record ? [{ ...GUARD_KEY, ...record, eventId: 'earlier' }] : []),
        ...(customerExists ? [PROFILE_KEY] : []),
      ],
    },
  });

beforeEach(() => {
  tableHolds();
  s3.on(PutObjectCommand).resolves({ VersionId: 'version-written' });
  s3.on(ListObjectVersionsCommand).resolves({});
  s3.on(DeleteObjectsCommand).resolves({});
});

afterEach(() => {
  ddb.reset();
  s3.reset();
});

const customerEvent = (
  type: CustomerEvent['type'],
  version: number,
  marketingConsent: CustomerEvent['marketingConsent'],
  eventId = `event-${type}-${version}`,
): CustomerEvent => ({
  eventId,
  type,
  occurredAt: '2025-03-04T05:06:07.000Z',
  version,
  customer: {
    id: CUSTOMER_ID,
    fullName: 'Ada Lovelace',
    email: 'ada@example.com',
    dateOfBirth: '1815-12-10',
    marketingOptIn: marketingConsent === 'granted',
    createdAt: '2025-03-04T05:06:07.000Z',
    updatedAt: '2025-03-04T05:06:07.000Z',
    version,
  },
  marketingConsent,
});

/** A conditional put refused, returning the newer record that stood in its way. */
const newerRecorded = (record: Stored) =>
  new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: {},
    Item: marshall({ ...GUARD_KEY, ...record, eventId: 'newer' }),
  });

/** The revoke's transaction cancelled: on the profile, on the record, or both. */
const revokeCancelled = ({ profile, record }: { profile?: boolean; record?: Stored }) =>
  new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: [
      { Code: profile ? 'ConditionalCheckFailed' : 'None' },
      record
        ? {
            Code: 'ConditionalCheckFailed',
            Item: marshall({ ...GUARD_KEY, ...record, eventId: 'newer' }),
          }
        : { Code: 'None' },
    ],
  });

const guardWrites = () => ddb.commandCalls(PutCommand).map((call) => call.args[0].input);
const revokeTransactions = () =>
  ddb.commandCalls(TransactWriteCommand).map((call) => call.args[0].input);
const contactPuts = () => s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input);
const deletedObjects = () =>
  s3.commandCalls(DeleteObjectsCommand).flatMap((call) => call.args[0].input.Delete?.Objects);
/** The contact was made sure to be gone: every version listed for deletion. */
const contactWiped = () => s3.commandCalls(ListObjectVersionsCommand).length > 0;

// ---- tests --------------------------------------------------------------------------------

describe('marketing consumer', () => {
  it('on a grant, reads the record and the profile, writes the contact, then records the version if it is newer', async () => {
    const response = await handler(
      batch(eventRecord(customerEvent('CustomerCreated', 1, 'granted'))),
    );

    expect(response).toEqual({ batchItemFailures: [] });
    expect(ddb.commandCalls(BatchGetCommand).map((call) => call.args[0].input)).toEqual([
      {
        RequestItems: {
          [TABLE_NAME]: {
            Keys: [GUARD_KEY, PROFILE_KEY],
            ProjectionExpression: 'sk, consent, version, eventId, deleted, deletedAt, expiresAt',
            ConsistentRead: true,
          },
        },
      },
    ]);
    expect(contactPuts()).toEqual([
      {
        Bucket: BUCKET,
        Key: KEY,
        Body: JSON.stringify({
          customerId: CUSTOMER_ID,
          email: 'ada@example.com',
          fullName: 'Ada Lovelace',
          consentVersion: 1,
        }),
        ContentType: 'application/json',
      },
    ]);
    expect(guardWrites()).toEqual([
      {
        TableName: TABLE_NAME,
        Item: { ...GUARD_KEY, consent: 'granted', version: 1, eventId: 'event-CustomerCreated-1' },
        ConditionExpression: 'attribute_not_exists(pk) OR version < :version',
        ExpressionAttributeValues: { ':version': 1 },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    ]);
    const [put] = s3.commandCalls(PutObjectCommand);
    const [record] = ddb.commandCalls(PutCommand);
    expect(put && record && put.calledBefore(record)).toBe(true);
    expect(s3.commandCalls(DeleteObjectCommand)).toHaveLength(0);
    expect(emf.series()).toEqual([
      'ContactsAdded{service=marketing} 1 Count',
      'RecordsReceived{service=marketing,FunctionVersion=7} 1 Count',
      'RecordsReceived{service=marketing} 1 Count',
    ]);
  });

  it('on a revoke, records the version while the customer exists, then deletes every version and delete marker', async () => {
    s3.on(ListObjectVersionsCommand).resolves({
      Versions: [
        { Key: KEY, VersionId: 'v2', IsLatest: true },
        { Key: KEY, VersionId: 'v1', IsLatest: false },
        { Key: `${KEY}.bak`, VersionId: 'other-key', IsLatest: true },
      ],
      DeleteMarkers: [{ Key: KEY, VersionId: 'marker-1', IsLatest: false }],
    });

    const response = await handler(
      batch(eventRecord(customerEvent('CustomerUpdated', 3, 'revoked'))),
    );

    expect(response).toEqual({ batchItemFailures: [] });
    expect(revokeTransactions()).toEqual([
      {
        TransactItems: [
          {
            ConditionCheck: {
              TableName: TABLE_NAME,
              Key: PROFILE_KEY,
              ConditionExpression: 'attribute_exists(pk)',
            },
          },
          {
            Put: {
              TableName: TABLE_NAME,
              Item: {
                ...GUARD_KEY,
                consent: 'revoked',
                version: 3,
                eventId: 'event-CustomerUpdated-3',
              },
              ConditionExpression: 'attribute_not_exists(pk) OR version <= :version',
              ExpressionAttributeValues: { ':version': 3 },
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
        ],
      },
    ]);
    expect(s3.commandCalls(ListObjectVersionsCommand).map((call) => call.args[0].input)).toEqual([
      { Bucket: BUCKET, Prefix: KEY },
    ]);
    expect(s3.commandCalls(DeleteObjectsCommand).map((call) => call.args[0].input)).toEqual([
      {
        Bucket: BUCKET,
        Delete: {
          Objects: [
            { Key: KEY, VersionId: 'v2' },
            { Key: KEY, VersionId: 'v1' },
            { Key: KEY, VersionId: 'marker-1' },
          ],
          Quiet: true,
        },
      },
    ]);
    const [record] = ddb.commandCalls(TransactWriteCommand);
    const [list] = s3.commandCalls(ListObjectVersionsCommand);
    expect(record && list && record.calledBefore(list)).toBe(true);
    expect(contactPuts()).toEqual([]);
    expect(emf.series()).toEqual([
      'ContactsRemoved{service=marketing} 1 Count',
      'RecordsReceived{service=marketing,FunctionVersion=7} 1 Count',
      'RecordsReceived{service=marketing} 1 Count',
    ]);
  });

  it('follows every page of versions before deleting', async () => {
    s3.on(ListObjectVersionsCommand)
      .resolvesOnce({
        Versions: [{ Key: KEY, VersionId: 'v2' }],
        IsTruncated: true,
        NextKeyMarker: KEY,
        NextVersionIdMarker: 'v2',
      })
      .resolvesOnce({ Versions: [{ Key: KEY, VersionId: 'v1' }], IsTruncated: false });

    await handler(batch(eventRecord(customerEvent('CustomerUpdated', 3, 'revoked'))));

    expect(s3.commandCalls(ListObjectVersionsCommand).map((call) => call.args[0].input)).toEqual([
      { Bucket: BUCKET, Prefix: KEY },
      { Bucket: BUCKET, Prefix: KEY, KeyMarker: KEY, VersionIdMarker: 'v2' },
    ]);
    expect(deletedObjects()).toEqual([
      { Key: KEY, VersionId: 'v2' },
      { Key: KEY, VersionId: 'v1' },
    ]);
  });

  it("records the deletion's revoke as a tombstone for 30 days only, ordered after its version", async () => {
    const before = Math.floor(Date.now() / 1000);
    await handler(batch(eventRecord(customerEvent('CustomerDeleted', 1, 'revoked'))));
    const after = Math.floor(Date.now() / 1000);

    // No condition on the profile: it is gone, and the record expires.
    expect(revokeTransactions()).toEqual([]);
    const [write] = guardWrites();
    // Deleted at version 1, after a version-1 grant: it must not look like a duplicate of it.
    expect(write?.Item).toMatchObject({
      consent: 'revoked',
      version: 2,
      deleted: true,
      deletedAt: '2025-03-04T05:06:07.000Z',
    });
    expect(write?.ConditionExpression).toBe('attribute_not_exists(pk) OR version <= :version');
    expect(write?.ExpressionAttributeValues).toEqual({ ':version': 2 });
    const expiresAt = write?.Item?.expiresAt as number;
    expect(expiresAt).toBeGreaterThanOrEqual(before + 30 * 24 * 60 * 60);
    expect(expiresAt).toBeLessThanOrEqual(after + 30 * 24 * 60 * 60);
    expect(contactWiped()).toBe(true);
  });

  it('gives the record no expiry for an opt-out of a customer who stays', async () => {
    await handler(batch(eventRecord(customerEvent('CustomerUpdated', 2, 'revoked'))));

    const [transaction] = revokeTransactions();
    expect(transaction?.TransactItems?.[1]?.Put?.Item).not.toHaveProperty('expiresAt');
  });

  it('writes no contact for a late grant, and makes sure none is left when the newer change revoked', async () => {
    tableHolds({ record: { consent: 'revoked', version: 3 } });
    s3.on(ListObjectVersionsCommand).resolves({ Versions: [{ Key: KEY, VersionId: 'mine' }] });

    const response = await handler(
      batch(eventRecord(customerEvent('CustomerUpdated', 2, 'granted'))),
    );

    expect(response).toEqual({ batchItemFailures: [] });
    expect(contactPuts()).toEqual([]);
    expect(guardWrites()).toEqual([]);
    // An earlier attempt of this grant may have written it before failing to record.
    expect(deletedObjects()).toEqual([{ Key: KEY, VersionId: 'mine' }]);
  });

  it("treats a deleted customer's tombstone like any newer revoke", async () => {
    tableHolds({
      record: { consent: 'revoked', version: 4, deleted: true },
      customerExists: false,
    });

    const response = await handler(
      batch(eventRecord(customerEvent('CustomerUpdated', 3, 'granted'))),
    );

    expect(response).toEqual({ batchItemFailures: [] });
    expect(contactPuts()).toEqual([]);
    expect(guardWrites()).toEqual([]);
    expect(contactWiped()).toBe(true);
  });

  it('writes nothing for a grant of a customer whose profile is gone, even with no record left', async () => {
    tableHolds({ customerExists: false });

    const response = await handler(
      batch(eventRecord(customerEvent('CustomerCreated', 1, 'granted'))),
    );

    expect(response).toEqual({ batchItemFailures: [] });
    expect(contactPuts()).toEqual([]);
    expect(guardWrites()).toEqual([]);
    expect(contactWiped()).toBe(true);
  });

  it('has no effect for a duplicate grant', async () => {
    tableHolds({ record: { consent: 'granted', version: 2 } });

    const response = await handler(
      batch(eventRecord(customerEvent('CustomerUpdated', 2, 'granted'))),
    );

    expect(response).toEqual({ batchItemFailures: [] });
    expect(contactPuts()).toEqual([]);
    expect(guardWrites()).toEqual([]);
    expect(s3.calls()).toHaveLength(0);
    expect(emf.series()).toEqual([
      'RecordsReceived{service=marketing,FunctionVersion=7} 1 Count',
      'RecordsReceived{service=marketing} 1 Count',
    ]);
  });

  it('undoes only its own write when a newer grant is recorded while a grant is applied', async () => {
    ddb.on(PutCommand).rejects(newerRecorded({ consent: 'granted', version: 3 }));

    const response = await handler(
      batch(eventRecord(customerEvent('CustomerUpdated', 2, 'granted'))),
    );

    expect(response).toEqual({ batchItemFailures: [] });
    expect(s3.commandCalls(DeleteObjectCommand).map((call) => call.args[0].input)).toEqual([
      { Bucket: BUCKET, Key: KEY, VersionId: 'version-written' },
    ]);
    expect(contactWiped()).toBe(false);
  });

  it('deletes every version when a revoke (or the deletion) is recorded while a grant is applied', async () => {
    ddb.on(PutCommand).rejects(newerRecorded({ consent: 'revoked', version: 3 }));
    s3.on(ListObjectVersionsCommand).resolves({
      Versions: [
        { Key: KEY, VersionId: 'version-written' },
        { Key: KEY, VersionId: 'older' },
      ],
    });

    const response = await handler(
      batch(eventRecord(customerEvent('CustomerUpdated', 2, 'granted'))),
    );

    expect(response).toEqual({ batchItemFailures: [] });
    expect(deletedObjects()).toEqual([
      { Key: KEY, VersionId: 'version-written' },
      { Key: KEY, VersionId: 'older' },
    ]);
    // Not added (never recorded), but a contact was removed.
    expect(emf.series()).toContain('ContactsRemoved{service=marketing} 1 Count');
    expect(emf.series().join()).not.toContain('ContactsAdded');
  });

  it('deletes nothing for a late revoke (a newer grant is recorded)', async () => {
    ddb
      .on(TransactWriteCommand)
      .rejects(revokeCancelled({ record: { consent: 'granted', version: 3 } }));

    const response = await handler(
      batch(eventRecord(customerEvent('CustomerUpdated', 2, 'revoked'))),
    );

    expect(response).toEqual({ batchItemFailures: [] });
    expect(s3.commandCalls(ListObjectVersionsCommand)).toHaveLength(0);
    expect(s3.commandCalls(DeleteObjectsCommand)).toHaveLength(0);
  });

  it('deletes again for a revoke behind a newer revoke: what that change wants', async () => {
    ddb
      .on(TransactWriteCommand)
      .rejects(revokeCancelled({ record: { consent: 'revoked', version: 4 } }));

    const response = await handler(
      batch(eventRecord(customerEvent('CustomerUpdated', 2, 'revoked'))),
    );

    expect(response).toEqual({ batchItemFailures: [] });
    expect(contactWiped()).toBe(true);
    // Nothing was left to delete: no contact removed.
    expect(emf.series().join()).not.toContain('ContactsRemoved');
  });

  it('records nothing for an opt-out of a customer whose profile is gone, and deletes the contact', async () => {
    ddb.on(TransactWriteCommand).rejects(revokeCancelled({ profile: true }));

    const response = await handler(
      batch(eventRecord(customerEvent('CustomerUpdated', 2, 'revoked'))),
    );

    expect(response).toEqual({ batchItemFailures: [] });
    expect(guardWrites()).toEqual([]);
    expect(contactWiped()).toBe(true);
  });

  it('fails the record for a retry when DynamoDB leaves the read unprocessed, writing nothing', async () => {
    ddb.on(BatchGetCommand).resolves({
      Responses: { [TABLE_NAME]: [] },
      UnprocessedKeys: { [TABLE_NAME]: { Keys: [GUARD_KEY, PROFILE_KEY] } },
    });
    const grant = customerEvent('CustomerUpdated', 2, 'granted');
    const other = { ...customerEvent('CustomerUpdated', 5, 'none'), eventId: 'event-none' };

    const response = await handler(batch(eventRecord(grant), eventRecord(other)));

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: `msg-${grant.eventId}` }] });
    expect(contactPuts()).toEqual([]);
    expect(emf.series()).toContain('RecordsFailed{service=marketing,reason=Busy} 1 Count');
  });

  it('fails the record for a retry on a transaction conflict, deleting nothing', async () => {
    ddb.on(TransactWriteCommand).rejects(
      new TransactionCanceledException({
        message: 'Transaction cancelled',
        $metadata: {},
        CancellationReasons: [{ Code: 'None' }, { Code: 'TransactionConflict' }],
      }),
    );
    const revoke = customerEvent('CustomerUpdated', 2, 'revoked');
    const other = { ...customerEvent('CustomerUpdated', 5, 'none'), eventId: 'event-none' };

    const response = await handler(batch(eventRecord(revoke), eventRecord(other)));

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: `msg-${revoke.eventId}` }] });
    expect(contactWiped()).toBe(false);
    expect(emf.series()).toEqual([
      'RecordsFailed{service=marketing,FunctionVersion=7} 1 Count',
      'RecordsFailed{service=marketing,reason=Busy} 1 Count',
      'RecordsFailed{service=marketing} 1 Count',
      'RecordsReceived{service=marketing,FunctionVersion=7} 2 Count',
      'RecordsReceived{service=marketing} 2 Count',
    ]);
  });

  it('fails the revoke for a retry when S3 could not delete a version', async () => {
    s3.on(ListObjectVersionsCommand).resolves({ Versions: [{ Key: KEY, VersionId: 'v1' }] });
    s3.on(DeleteObjectsCommand).resolves({
      Errors: [{ Key: KEY, VersionId: 'v1', Code: 'InternalError' }],
    });
    const revoke = customerEvent('CustomerUpdated', 2, 'revoked');
    const other = { ...customerEvent('CustomerUpdated', 5, 'none'), eventId: 'event-none' };

    const response = await handler(batch(eventRecord(revoke), eventRecord(other)));

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: `msg-${revoke.eventId}` }] });
  });

  it('ignores an event that changes no consent', async () => {
    const response = await handler(batch(eventRecord(customerEvent('CustomerUpdated', 2, 'none'))));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(ddb.calls()).toHaveLength(0);
    expect(s3.calls()).toHaveLength(0);
  });

  it('fails only the malformed messages of a batch and applies the others', async () => {
    const first = customerEvent('CustomerCreated', 1, 'granted', 'event-first');
    const second = customerEvent('CustomerUpdated', 2, 'granted', 'event-second');

    const response = await handler(
      batch(
        eventRecord(first),
        sqsRecord('msg-not-json', 'granted'),
        sqsRecord('msg-not-an-event', JSON.stringify({ ...first, marketingConsent: 'maybe' })),
        eventRecord(second),
      ),
    );

    expect(response).toEqual({
      batchItemFailures: [
        { itemIdentifier: 'msg-not-json' },
        { itemIdentifier: 'msg-not-an-event' },
      ],
    });
    expect(guardWrites().map((input) => input.Item?.eventId)).toEqual([
      'event-first',
      'event-second',
    ]);
  });
});

describe('marketing configuration', () => {
  it('fails at cold start without CONTACTS_BUCKET_NAME, naming it', () => {
    const saved = process.env.CONTACTS_BUCKET_NAME;
    delete process.env.CONTACTS_BUCKET_NAME;
    try {
      jest.isolateModules(() => {
        expect(() => jest.requireActual('../../lambda/marketing/handler')).toThrow(
          'Missing required environment variable CONTACTS_BUCKET_NAME',
        );
      });
    } finally {
      process.env.CONTACTS_BUCKET_NAME = saved;
    }
  });
});
