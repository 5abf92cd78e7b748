import { FullBatchFailureError } from '@aws-lambda-powertools/batch';
import { clearCaches } from '@aws-lambda-powertools/parameters';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import type { CustomerEvent } from '../../lambda/shared/domain/events';
import { customerPk, profileKey, welcomeKey } from '../../lambda/shared/domain/keys';
import { captureEmf, metricsEnvironment } from './emf';
import { type WithContext, withContext } from './lambda-context';
import { answer, type FakeProvider, startProvider } from './provider-fixtures';
import { batch, eventRecord, sqsRecord } from './sqs-fixtures';

const TABLE_NAME = 'customers';
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:notification-key-AbCdEf';
const API_KEY = 'test-api-key-0123456789';
process.env.TABLE_NAME = TABLE_NAME;
process.env.NOTIFICATION_API_KEY_SECRET_ARN = SECRET_ARN;
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
metricsEnvironment('welcome');
const emf = captureEmf();

type HandlerModule = typeof import('../../lambda/welcome/handler');
let handler: WithContext<HandlerModule['handler']>;
let provider: FakeProvider;

beforeAll(async () => {
  provider = await startProvider();
  process.env.NOTIFICATION_ENDPOINT = provider.url;
  // The module reads its environment when it loads, so it is loaded only now.
  handler = withContext(jest.requireActual<HandlerModule>('../../lambda/welcome/handler').handler);
});

afterAll(() => provider.close());

const ddb = mockClient(DynamoDBDocumentClient);
const secrets = mockClient(SecretsManagerClient);

beforeEach(() => {
  secrets.on(GetSecretValueCommand).resolves({ SecretString: API_KEY });
});

afterEach(() => {
  ddb.reset();
  secrets.reset();
  clearCaches();
  provider.reset();
});

// ---- builders -----------------------------------------------------------------------------

const customerId = (n: number): string => `0b9f6c1e-3f7a-4c2d-9e8b-${String(n).padStart(12, '0')}`;

const createdEvent = (n: number, changes: Partial<CustomerEvent> = {}): CustomerEvent => ({
  eventId: `event-${n}`,
  type: 'CustomerCreated',
  occurredAt: '2025-03-04T05:06:07.000Z',
  version: 1,
  customer: {
    id: customerId(n),
    fullName: `Ada Lovelace ${n}`,
    email: `ada${n}@example.com`,
    dateOfBirth: '1815-12-10',
    marketingOptIn: false,
    createdAt: '2025-03-04T05:06:07.000Z',
    updatedAt: '2025-03-04T05:06:07.000Z',
    version: 1,
  },
  marketingConsent: 'none',
  ...changes,
});

const cancelled = (profile: string, claim: string) =>
  new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: [{ Code: profile }, { Code: claim }],
  });

/** The bodies the provider received, by customer id: a batch's records are sent concurrently. */
const sentBodies = (): unknown[] =>
  provider.requests
    .map((request) => JSON.parse(request.body) as { customerId: string })
    .sort((a, b) => a.customerId.localeCompare(b.customerId));

// ---- tests --------------------------------------------------------------------------------

describe('welcome consumer', () => {
  it('claims, sends exactly one POST with the API key and the event id, then marks the claim SENT', async () => {
    const event = createdEvent(1);

    const response = await handler(batch(eventRecord(event)));

    expect(response).toEqual({ batchItemFailures: [] });
    const [claim] = ddb.commandCalls(TransactWriteCommand).map((call) => call.args[0].input);
    const now = claim?.TransactItems?.[1]?.Put?.ExpressionAttributeValues?.[':now'] as number;
    expect(claim).toEqual({
      TransactItems: [
        {
          ConditionCheck: {
            TableName: TABLE_NAME,
            Key: profileKey(customerId(1)),
            ConditionExpression: 'attribute_exists(pk)',
          },
        },
        {
          Put: {
            TableName: TABLE_NAME,
            Item: {
              ...welcomeKey(customerId(1)),
              status: 'PENDING',
              eventId: 'event-1',
              claimedAt: expect.any(String),
              lockedUntil: now + 60,
              expiresAt: now + 24 * 60 * 60,
            },
            ConditionExpression:
              'attribute_not_exists(pk) OR (#status = :pending AND lockedUntil < :now)',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':pending': 'PENDING', ':now': now },
          },
        },
      ],
    });

    expect(provider.requests).toHaveLength(1);
    expect(provider.requests[0]).toMatchObject({
      method: 'POST',
      path: '/v1/messages',
      headers: expect.objectContaining({
        authorization: `Bearer ${API_KEY}`,
        'content-type': 'application/json',
        'idempotency-key': 'event-1',
      }),
    });
    expect(sentBodies()).toEqual([
      {
        template: 'welcome',
        customerId: customerId(1),
        email: 'ada1@example.com',
        fullName: 'Ada Lovelace 1',
      },
    ]);

    const updates = ddb.commandCalls(UpdateCommand);
    expect(updates.map((call) => call.args[0].input)).toEqual([
      {
        TableName: TABLE_NAME,
        Key: welcomeKey(customerId(1)),
        UpdateExpression: 'SET #status = :sent, sentAt = :sentAt REMOVE expiresAt, lockedUntil',
        ConditionExpression: 'eventId = :eventId',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':sent': 'SENT',
          ':sentAt': expect.any(String),
          ':eventId': 'event-1',
        },
      },
    ]);
    const [claimCall] = ddb.commandCalls(TransactWriteCommand);
    const [sentCall] = updates;
    expect(claimCall && sentCall && claimCall.calledBefore(sentCall)).toBe(true);
    expect(emf.series()).toEqual([
      'RecordsReceived{service=welcome,FunctionVersion=7} 1 Count',
      'RecordsReceived{service=welcome} 1 Count',
      'WelcomesSent{service=welcome} 1 Count',
    ]);
  });

  it('sends nothing for a redelivered event whose welcome is already SENT', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled('None', 'ConditionalCheckFailed'));
    ddb
      .on(GetCommand)
      .resolves({ Item: { ...welcomeKey(customerId(1)), status: 'SENT', eventId: 'event-1' } });

    const response = await handler(batch(eventRecord(createdEvent(1))));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(ddb.commandCalls(GetCommand).map((call) => call.args[0].input)).toEqual([
      { TableName: TABLE_NAME, Key: welcomeKey(customerId(1)), ConsistentRead: true },
    ]);
    expect(provider.requests).toHaveLength(0);
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    // Redeliveries, not a fault.
    expect(emf.series()).toContain('WelcomesSkippedDuplicate{service=welcome} 1 Count');
    expect(emf.series().filter((line) => line.startsWith('Welcomes'))).toHaveLength(1);
  });

  it('sends nothing to a customer deleted before the welcome went out', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled('ConditionalCheckFailed', 'None'));

    const response = await handler(batch(eventRecord(createdEvent(1))));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(provider.requests).toHaveLength(0);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    expect(emf.series()).toEqual([
      'RecordsReceived{service=welcome,FunctionVersion=7} 1 Count',
      'RecordsReceived{service=welcome} 1 Count',
      'WelcomesSkippedDeleted{service=welcome} 1 Count',
    ]);
  });

  it('fails the record while another attempt holds a live claim, sending nothing for it', async () => {
    ddb.on(TransactWriteCommand).callsFake((input: TransactWriteCommandInput) => {
      if (input.TransactItems?.[1]?.Put?.Item?.pk === customerPk(customerId(1))) {
        throw cancelled('None', 'ConditionalCheckFailed');
      }
      return {};
    });
    ddb.on(GetCommand).resolves({
      Item: { ...welcomeKey(customerId(1)), status: 'PENDING', eventId: 'event-1' },
    });

    const response = await handler(
      batch(eventRecord(createdEvent(1)), eventRecord(createdEvent(2))),
    );

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'msg-event-1' }] });
    expect(sentBodies()).toEqual([expect.objectContaining({ customerId: customerId(2) })]);
    expect(ddb.commandCalls(UpdateCommand).map((call) => call.args[0].input.Key)).toEqual([
      welcomeKey(customerId(2)),
    ]);
    expect(emf.series()).toEqual([
      'RecordsFailed{service=welcome,FunctionVersion=7} 1 Count',
      'RecordsFailed{service=welcome,reason=InFlight} 1 Count',
      'RecordsFailed{service=welcome} 1 Count',
      'RecordsReceived{service=welcome,FunctionVersion=7} 2 Count',
      'RecordsReceived{service=welcome} 2 Count',
      'WelcomesSent{service=welcome} 1 Count',
    ]);
  });

  it('takes its own event’s PENDING claim over on a redelivery, lock or not, and sends under the same key', async () => {
    const record = eventRecord(createdEvent(1));
    const redelivery = {
      ...record,
      attributes: { ...record.attributes, ApproximateReceiveCount: '2' },
    };

    const response = await handler(batch(redelivery));

    expect(response).toEqual({ batchItemFailures: [] });
    const [claim] = ddb.commandCalls(TransactWriteCommand).map((call) => call.args[0].input);
    expect(claim?.TransactItems?.[1]?.Put).toMatchObject({
      ConditionExpression:
        'attribute_not_exists(pk) OR (#status = :pending AND (lockedUntil < :now OR eventId = :eventId))',
      ExpressionAttributeValues: expect.objectContaining({ ':eventId': 'event-1' }),
    });
    expect(provider.requests).toHaveLength(1);
    expect(provider.requests[0]?.headers['idempotency-key']).toBe('event-1');
  });

  it('waits for the lock on a first delivery: a duplicate publication may be sending right now', async () => {
    await handler(batch(eventRecord(createdEvent(1))));

    const [claim] = ddb.commandCalls(TransactWriteCommand).map((call) => call.args[0].input);
    expect(claim?.TransactItems?.[1]?.Put?.ConditionExpression).toBe(
      'attribute_not_exists(pk) OR (#status = :pending AND lockedUntil < :now)',
    );
    expect(claim?.TransactItems?.[1]?.Put?.ExpressionAttributeValues).not.toHaveProperty(
      ':eventId',
    );
  });

  it('fails only the record whose provider call answers 500, and leaves its claim PENDING', async () => {
    provider.respond = (request, response) => {
      const { customerId: id } = JSON.parse(request.body) as { customerId: string };
      answer(id === customerId(1) ? 500 : 202)(request, response);
    };
    const failing = createdEvent(1);
    const passing = createdEvent(2);

    const response = await handler(batch(eventRecord(failing), eventRecord(passing)));

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'msg-event-1' }] });
    expect(provider.requests).toHaveLength(2);
    expect(ddb.commandCalls(UpdateCommand).map((call) => call.args[0].input.Key)).toEqual([
      welcomeKey(customerId(2)),
    ]);
    // Counted failed, not sent: the count follows the mark.
    expect(emf.series()).toEqual([
      'RecordsFailed{service=welcome,FunctionVersion=7} 1 Count',
      'RecordsFailed{service=welcome,reason=Unavailable} 1 Count',
      'RecordsFailed{service=welcome} 1 Count',
      'RecordsReceived{service=welcome,FunctionVersion=7} 2 Count',
      'RecordsReceived{service=welcome} 2 Count',
      'WelcomesSent{service=welcome} 1 Count',
    ]);
  });

  it('fails the record when the provider hangs up without answering', async () => {
    provider.respond = (_request, response) => response.socket?.destroy();

    // A batch that fails as a whole fails the invocation, so Lambda also slows its polling.
    await expect(handler(batch(eventRecord(createdEvent(1))))).rejects.toBeInstanceOf(
      FullBatchFailureError,
    );
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    // Published although the invocation failed.
    expect(emf.series()).toEqual([
      'RecordsFailed{service=welcome,FunctionVersion=7} 1 Count',
      'RecordsFailed{service=welcome,reason=Unavailable} 1 Count',
      'RecordsFailed{service=welcome} 1 Count',
      'RecordsReceived{service=welcome,FunctionVersion=7} 1 Count',
      'RecordsReceived{service=welcome} 1 Count',
    ]);
  });

  it('reads the API key secret once across invocations', async () => {
    await handler(batch(eventRecord(createdEvent(1))));
    await handler(batch(eventRecord(createdEvent(2))));

    expect(secrets.commandCalls(GetSecretValueCommand).map((call) => call.args[0].input)).toEqual([
      { SecretId: SECRET_ARN },
    ]);
    expect(provider.requests).toHaveLength(2);
  });

  it('ignores an event that is not a creation', async () => {
    const updated = createdEvent(1, { type: 'CustomerUpdated', version: 2 });

    const response = await handler(batch(eventRecord(updated)));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(ddb.calls()).toHaveLength(0);
    expect(provider.requests).toHaveLength(0);
  });

  it('fails only the malformed messages of a batch and welcomes the others', async () => {
    const notJson = sqsRecord('msg-not-json', 'this is not JSON');
    const notAnEvent = sqsRecord('msg-not-an-event', JSON.stringify({ type: 'CustomerCreated' }));

    const response = await handler(
      batch(eventRecord(createdEvent(1)), notJson, notAnEvent, eventRecord(createdEvent(2))),
    );

    expect(response).toEqual({
      batchItemFailures: [
        { itemIdentifier: 'msg-not-json' },
        { itemIdentifier: 'msg-not-an-event' },
      ],
    });
    expect(sentBodies()).toEqual([
      expect.objectContaining({ customerId: customerId(1) }),
      expect.objectContaining({ customerId: customerId(2) }),
    ]);
  });
});
