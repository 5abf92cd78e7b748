import { FullBatchFailureError } from '@aws-lambda-powertools/batch';
import { DynamoDBClient, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  QueryCommand,
  type QueryCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  SQSBatchResponse,
  SQSEvent,
} from 'aws-lambda';
import { type RunningMoto, startMoto } from 'cdk-local-cloud';
import type { Customer, CustomerInput } from '../../lambda/shared/domain/customer';
import { DELETED_CUSTOMER_TTL_SECONDS } from '../../lambda/shared/domain/deletion';
import {
  type CustomerEvent,
  type ProfileChange,
  toCustomerEvent,
} from '../../lambda/shared/domain/events';
import { customerPk, marketingConsentKey } from '../../lambda/shared/domain/keys';
import { createCustomerTable } from '../local/moto-tables';
import { apiEvent } from './http-fixtures';
import { withContext } from './lambda-context';
import { type FakeProvider, startProvider } from './provider-fixtures';
import { batch, eventRecord } from './sqs-fixtures';

/**
 * The interleavings that once brought a deleted or opted-out customer back, replayed on
 * moto with the handlers themselves: every condition is evaluated by the emulator, and
 * the order of the handlers' AWS calls is forced by holding one call back until
 * another handler has run (`beforeNext`).
 */
jest.setTimeout(60_000);

const TABLE_NAME = 'customers';
const BUCKET = 'assets-bucket';
const CONTACTS_BUCKET = 'marketing-contacts-bucket';
const REGION = 'us-east-1';
const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

type Handler<E, R> = (event: E) => Promise<R>;
type Consumer = Handler<SQSEvent, SQSBatchResponse>;

let moto: RunningMoto;
let provider: FakeProvider;
let api: Handler<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>;
let marketing: Consumer;
let archive: Consumer;
let welcome: Consumer;
let doc: DynamoDBDocumentClient;
let s3: S3Client;

// ---- holding calls back -------------------------------------------------------------------

type Step = () => Promise<void>;
const pending: { command: string; step: Step }[] = [];

/**
 * Runs `step` just before the next `command` (by class name) a handler sends, then
 * sends it; a step that throws fails that call instead, as AWS would.
 */
const beforeNext = (command: string, step: Step): void => {
  pending.push({ command, step });
};

type Send = (this: object, command: object, ...rest: unknown[]) => Promise<unknown>;

/** Routes every handler's calls through `pending`; the test's own clients pass untouched. */
const interceptSends = (client: { prototype: object }, own: ReadonlySet<object>): void => {
  const prototype = client.prototype as { send: Send };
  const send = prototype.send;
  jest.spyOn(prototype, 'send').mockImplementation(async function (this: object, command, ...rest) {
    if (!own.has(this)) {
      const index = pending.findIndex((p) => p.command === command.constructor.name);
      const [held] = index >= 0 ? pending.splice(index, 1) : [];
      if (held) await held.step();
    }
    return send.call(this, command, ...rest);
  });
};

const deferred = () => {
  let resolve = () => {};
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
};

const s3InternalError = () =>
  new S3ServiceException({
    name: 'InternalError',
    $fault: 'server',
    $metadata: { httpStatusCode: 500 },
    message: 'We encountered an internal error. Please try again.',
  });

const throttled = () =>
  new ProvisionedThroughputExceededException({ message: 'Throughput exceeded', $metadata: {} });

// ---- set-up -------------------------------------------------------------------------------

beforeAll(async () => {
  moto = await startMoto();
  provider = await startProvider();
  const config = { endpoint: moto.endpoint, region: REGION, credentials: CREDENTIALS };
  const dynamodb = new DynamoDBClient(config);
  doc = DynamoDBDocumentClient.from(dynamodb);
  s3 = new S3Client({ ...config, forcePathStyle: true });
  const secrets = new SecretsManagerClient(config);

  await createCustomerTable(dynamodb, TABLE_NAME);
  for (const bucket of [BUCKET, CONTACTS_BUCKET]) {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(
      new PutBucketVersioningCommand({
        Bucket: bucket,
        VersioningConfiguration: { Status: 'Enabled' },
      }),
    );
  }
  const { ARN } = await secrets.send(
    new CreateSecretCommand({ Name: 'notification-key', SecretString: 'test-api-key' }),
  );
  secrets.destroy();

  Object.assign(process.env, {
    AWS_ENDPOINT_URL: moto.endpoint,
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    TABLE_NAME,
    BUCKET_NAME: BUCKET,
    CONTACTS_BUCKET_NAME: CONTACTS_BUCKET,
    NOTIFICATION_ENDPOINT: provider.url,
    NOTIFICATION_API_KEY_SECRET_ARN: ARN,
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    // Their business metrics would be most of the output: test/lambda/<handler>.test.ts's.
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  interceptSends(S3Client, new Set([s3]));
  interceptSends(DynamoDBDocumentClient, new Set([doc]));
  // The modules read their environment when they load, so they are loaded only now.
  api = withContext(jest.requireActual('../../lambda/api/handler').handler);
  marketing = withContext(jest.requireActual('../../lambda/marketing/handler').handler);
  archive = withContext(jest.requireActual('../../lambda/archive/handler').handler);
  welcome = withContext(jest.requireActual('../../lambda/welcome/handler').handler);
});

afterAll(async () => {
  jest.restoreAllMocks();
  doc?.destroy();
  s3?.destroy();
  await provider?.close();
  await moto?.stop();
});

afterEach(() => {
  // Every held call was reached: the interleaving the test names really happened.
  expect(pending.map((p) => p.command)).toEqual([]);
  pending.length = 0;
});

// ---- the API, the events, the consumers ---------------------------------------------------

let counter = 0;
const inputOf = (changes: Partial<CustomerInput> = {}): CustomerInput => {
  counter += 1;
  return {
    fullName: 'Ada Lovelace',
    email: `ada-${counter}@example.com`,
    dateOfBirth: '1815-12-10',
    marketingOptIn: true,
    ...changes,
  };
};

const call = async (
  routeKey: string,
  { id, body, ifMatch }: { id?: string; body?: unknown; ifMatch?: string } = {},
) =>
  api(
    apiEvent(routeKey, {
      pathParameters: id === undefined ? undefined : { id },
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: ifMatch === undefined ? {} : { 'if-match': ifMatch },
    }),
  );

const create = async (input: CustomerInput): Promise<Customer> => {
  const response = await call('POST /customers', { body: input });
  expect(response.statusCode).toBe(201);
  return JSON.parse(response.body ?? '') as Customer;
};

const replace = async (current: Customer, changes: Partial<CustomerInput>): Promise<Customer> => {
  const { id, version, createdAt: _c, updatedAt: _u, ...input } = current;
  const response = await call('PUT /customers/{id}', {
    id,
    body: { ...input, ...changes },
    ifMatch: `"${version}"`,
  });
  expect(response.statusCode).toBe(200);
  return JSON.parse(response.body ?? '') as Customer;
};

const remove = async (current: Customer): Promise<void> => {
  const response = await call('DELETE /customers/{id}', {
    id: current.id,
    ifMatch: `"${current.version}"`,
  });
  expect(response.statusCode).toBe(204);
};

/** The event the publisher makes of a profile change. */
const eventOf = (change: ProfileChange): CustomerEvent => {
  counter += 1;
  const event = toCustomerEvent(change, { eventId: `event-${counter}`, occurredAt: new Date() });
  if (!event) throw new Error('the change publishes no event');
  return event;
};

/** One delivery of `event` to `consumer`: whether the consumer took it or SQS keeps it. */
const deliver = async (consumer: Consumer, event: CustomerEvent): Promise<'done' | 'failed'> => {
  try {
    const { batchItemFailures } = await consumer(batch(eventRecord(event)));
    return batchItemFailures.length === 0 ? 'done' : 'failed';
  } catch (error) {
    // Every record of the batch failed: Powertools fails the invocation.
    if (error instanceof FullBatchFailureError) return 'failed';
    throw error;
  }
};

// ---- what is left -------------------------------------------------------------------------

const partitionItems = async (id: string): Promise<Record<string, unknown>[]> => {
  const items: Record<string, unknown>[] = [];
  let ExclusiveStartKey: QueryCommandOutput['LastEvaluatedKey'];
  do {
    const page = await doc.send(
      new QueryCommand({
        TableName: TABLE_NAME,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': customerPk(id) },
        ConsistentRead: true,
        ExclusiveStartKey,
      }),
    );
    items.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
};

/** Invariant 3: nothing of a deleted customer outlives a TTL. */
const expectOnlyExpiringItems = async (id: string): Promise<Record<string, unknown>[]> => {
  const items = await partitionItems(id);
  expect(items.filter((item) => typeof item.expiresAt !== 'number').map((i) => i.sk)).toEqual([]);
  return items;
};

const contactVersions = async (id: string): Promise<number> => {
  const key = `contacts/${id}.json`;
  const out = await s3.send(
    new ListObjectVersionsCommand({ Bucket: CONTACTS_BUCKET, Prefix: key }),
  );
  return [...(out.Versions ?? []), ...(out.DeleteMarkers ?? [])].filter((v) => v.Key === key)
    .length;
};

const consentRecordOf = async (id: string) =>
  (await partitionItems(id)).find((item) => item.sk === marketingConsentKey(id).sk);

const expectTombstone = async (customer: Customer): Promise<void> => {
  const now = Math.floor(Date.now() / 1000);
  expect(await consentRecordOf(customer.id)).toMatchObject({
    consent: 'revoked',
    deleted: true,
    version: customer.version + 1,
    expiresAt: expect.any(Number),
  });
  const { expiresAt } = (await consentRecordOf(customer.id)) as { expiresAt: number };
  expect(expiresAt).toBeGreaterThan(now + DELETED_CUSTOMER_TTL_SECONDS - 60);
  expect(expiresAt).toBeLessThanOrEqual(now + DELETED_CUSTOMER_TTL_SECONDS);
};

// ---- the interleavings --------------------------------------------------------------------

describe('a deleted or opted-out customer never comes back', () => {
  test('a grant that failed once, redelivered after an opt-out and the deletion, adds no contact', async () => {
    const v1 = await create(inputOf({ marketingOptIn: true }));
    const granted = eventOf({ kind: 'INSERT', newImage: v1 });
    beforeNext('PutObjectCommand', async () => {
      throw s3InternalError();
    });
    expect(await deliver(marketing, granted)).toBe('failed');

    const v2 = await replace(v1, { marketingOptIn: false });
    const revoked = eventOf({ kind: 'MODIFY', oldImage: v1, newImage: v2 });
    expect(revoked.marketingConsent).toBe('revoked');
    expect(await deliver(marketing, revoked)).toBe('done');
    await remove(v2);
    // Opted out before the deletion: its event says `none`, and the marketing filter drops it.
    expect(eventOf({ kind: 'REMOVE', oldImage: v2 }).marketingConsent).toBe('none');

    expect(await deliver(marketing, granted)).toBe('done');

    expect(await contactVersions(v1.id)).toBe(0);
    await expectTombstone(v2);
    await expectOnlyExpiringItems(v1.id);
  });

  test('a grant overtaken by a revoke, then retried after failing to record, leaves no contact', async () => {
    const v1 = await create(inputOf({ marketingOptIn: true }));
    const v2 = await replace(v1, { marketingOptIn: false });
    const granted = eventOf({ kind: 'INSERT', newImage: v1 });
    const revoked = eventOf({ kind: 'MODIFY', oldImage: v1, newImage: v2 });
    // The grant has read no record; the revoke runs in full before the grant writes the
    // contact, and the grant's own record then fails for a transient reason.
    beforeNext('PutObjectCommand', async () => {
      expect(await deliver(marketing, revoked)).toBe('done');
      beforeNext('PutCommand', async () => {
        throw throttled();
      });
    });
    expect(await deliver(marketing, granted)).toBe('failed');
    // The failed attempt's write is there, in the contacts bucket, for its retry to undo.
    expect(await contactVersions(v1.id)).toBe(1);

    expect(await deliver(marketing, granted)).toBe('done');

    expect(await contactVersions(v1.id)).toBe(0);
    expect(await consentRecordOf(v1.id)).toMatchObject({ consent: 'revoked', version: 2 });
  });

  test('a welcome claimed while the customer is deleted leaves no item without an expiry', async () => {
    const v1 = await create(inputOf());
    const created = eventOf({ kind: 'INSERT', newImage: v1 });
    const claimed = deferred();
    const deleted = deferred();
    let welcoming: Promise<'done' | 'failed'> | undefined;
    // The deletion is about to commit when the welcome claims, sends, and waits to mark
    // its claim sent until the deletion has committed.
    beforeNext('TransactWriteCommand', async () => {
      welcoming = deliver(welcome, created);
      await claimed.promise;
    });
    beforeNext('UpdateCommand', async () => {
      claimed.resolve();
      await deleted.promise;
    });
    await remove(v1);
    deleted.resolve();
    expect(await welcoming).toBe('failed');
    // Its redelivery finds the customer gone and sends nothing more.
    expect(await deliver(welcome, created)).toBe('done');

    expect(provider.requests).toHaveLength(1);
    await expectTombstone(v1);
    const items = await expectOnlyExpiringItems(v1.id);
    expect(items.map((item) => item.sk)).toEqual([marketingConsentKey(v1.id).sk]);
  });

  test('a creation archived while its deletion lands never brings the customer back', async () => {
    const v1 = await create(inputOf());
    await remove(v1);
    const created = eventOf({ kind: 'INSERT', newImage: v1 });
    const deletion = eventOf({ kind: 'REMOVE', oldImage: v1 });
    // The creation has read "nothing archived"; the deletion is archived before it writes.
    beforeNext('PutObjectCommand', async () => {
      expect(await deliver(archive, deletion)).toBe('done');
    });
    expect(await deliver(archive, created)).toBe('failed');
    expect(await deliver(archive, created)).toBe('done');

    const key = `customers/${v1.id}.json`;
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(head.Metadata).toMatchObject({ deleted: 'true', version: '2' });
    const current = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    const body = JSON.parse((await current.Body?.transformToString()) ?? '');
    expect(body).toEqual({ id: v1.id, deleted: true, deletedAt: deletion.occurredAt, version: 2 });
  });

  test('an update archived while the deletion lands never brings the customer back', async () => {
    const v1 = await create(inputOf());
    const v2 = await replace(v1, { fullName: 'Ada King' });
    await remove(v2);
    const created = eventOf({ kind: 'INSERT', newImage: v1 });
    const updated = eventOf({ kind: 'MODIFY', oldImage: v1, newImage: v2 });
    const deletion = eventOf({ kind: 'REMOVE', oldImage: v2 });
    expect(await deliver(archive, created)).toBe('done');
    beforeNext('PutObjectCommand', async () => {
      expect(await deliver(archive, deletion)).toBe('done');
    });
    expect(await deliver(archive, updated)).toBe('failed');
    expect(await deliver(archive, updated)).toBe('done');

    const key = `customers/${v1.id}.json`;
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(head.Metadata).toMatchObject({ deleted: 'true' });
  });
});

describe('once the tombstone has expired, a deleted customer still never comes back', () => {
  /** What DynamoDB's TTL does to the tombstone after 30 days. */
  const expireTombstone = (id: string) =>
    doc.send(new DeleteCommand({ TableName: TABLE_NAME, Key: marketingConsentKey(id) }));

  test('a late grant writes no contact and no record', async () => {
    const v1 = await create(inputOf({ marketingOptIn: true }));
    await remove(v1);
    await expireTombstone(v1.id);

    expect(await deliver(marketing, eventOf({ kind: 'INSERT', newImage: v1 }))).toBe('done');

    expect(await contactVersions(v1.id)).toBe(0);
    expect(await partitionItems(v1.id)).toEqual([]);
  });

  test('a late opt-out records nothing that would never expire', async () => {
    const v1 = await create(inputOf({ marketingOptIn: true }));
    const v2 = await replace(v1, { marketingOptIn: false });
    await remove(v2);
    await expireTombstone(v1.id);

    const revoked = eventOf({ kind: 'MODIFY', oldImage: v1, newImage: v2 });
    expect(await deliver(marketing, revoked)).toBe('done');

    expect(await partitionItems(v1.id)).toEqual([]);
  });

  test('a late deletion revoke records a tombstone that expires', async () => {
    const v1 = await create(inputOf({ marketingOptIn: true }));
    await remove(v1);
    await expireTombstone(v1.id);

    const deletion = eventOf({ kind: 'REMOVE', oldImage: v1 });
    expect(deletion.marketingConsent).toBe('revoked');
    expect(await deliver(marketing, deletion)).toBe('done');

    await expectOnlyExpiringItems(v1.id);
    expect(await consentRecordOf(v1.id)).toMatchObject({ deleted: true, version: 2 });
  });
});
