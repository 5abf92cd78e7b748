import { Logger } from '@aws-lambda-powertools/logger';
import {
  ProvisionedThroughputExceededException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { CUSTOMER_ROUTES } from '../../lambda/shared/contract';
import { captureEmf, metricsEnvironment } from './emf';
import {
  apiEvent,
  bodyOf,
  type EventOptions,
  ID,
  stored,
  storedAvatar,
  storedItem,
} from './http-fixtures';
import { type WithContext, withContext } from './lambda-context';

const TABLE_NAME = 'customers-table';
process.env.TABLE_NAME = TABLE_NAME;
// No BUCKET_NAME: the template gives the API function none, so it must load without one.
delete process.env.BUCKET_NAME;
process.env.AWS_REGION = 'eu-west-1';
metricsEnvironment('api');
const emf = captureEmf();

type HandlerModule = typeof import('../../lambda/api/handler');
let handler: WithContext<HandlerModule['handler']>;

beforeAll(() => {
  // The module reads its env vars when it loads, so it is loaded only now. (A dynamic `import()`
  // would need a `.js` extension under NodeNext, which jest does not map back to `.ts`.)
  handler = withContext(jest.requireActual<HandlerModule>('../../lambda/api/handler').handler);
});

const ddb = mockClient(DynamoDBDocumentClient);
let loggedErrors: jest.SpyInstance;

beforeEach(() => {
  loggedErrors = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
});

afterEach(() => {
  ddb.reset();
  jest.restoreAllMocks();
});

// ---- builders -----------------------------------------------------------------------------

const OTHER_ID = '9b2d7c1a-5e4f-4a3b-8c2d-1e0f9a8b7c6d';

const input = {
  fullName: stored.fullName,
  email: stored.email,
  gitHubUsername: stored.gitHubUsername,
  dateOfBirth: stored.dateOfBirth,
  marketingOptIn: stored.marketingOptIn,
};

const post = (body: unknown, options: EventOptions = {}) =>
  handler(apiEvent('POST /customers', { body: JSON.stringify(body), ...options }));

const get = (idOrEmail: string) =>
  handler(apiEvent('GET /customers/{idOrEmail}', { pathParameters: { idOrEmail } }));

const put = (id: string, body: unknown, ifMatch?: string) =>
  handler(
    apiEvent('PUT /customers/{id}', {
      pathParameters: { id },
      body: JSON.stringify(body),
      headers: ifMatch === undefined ? {} : { 'if-match': ifMatch },
    }),
  );

const del = (id: string, ifMatch?: string) =>
  handler(
    apiEvent('DELETE /customers/{id}', {
      pathParameters: { id },
      headers: ifMatch === undefined ? {} : { 'if-match': ifMatch },
    }),
  );

const cancelled = (...codes: string[]) =>
  new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });

const profileGet = (consistent: boolean) => ({
  TableName: TABLE_NAME,
  Key: { pk: `CUSTOMER#${ID}`, sk: 'PROFILE' },
  ConsistentRead: consistent,
});

const givenStored = (item: Record<string, unknown> = storedItem) =>
  ddb.on(GetCommand, { Key: { pk: `CUSTOMER#${ID}`, sk: 'PROFILE' } }).resolves({ Item: item });

const transactions = () => ddb.commandCalls(TransactWriteCommand).map((call) => call.args[0].input);

const writeCount = () =>
  ddb.commandCalls(TransactWriteCommand).length +
  ddb.commandCalls(PutCommand).length +
  ddb.commandCalls(UpdateCommand).length +
  ddb.commandCalls(DeleteCommand).length +
  ddb.commandCalls(BatchWriteCommand).length;

// ---- POST /customers ----------------------------------------------------------------------

describe('POST /customers', () => {
  it('creates the profile and the email claim in one transaction (201, Location, ETag)', async () => {
    ddb.on(TransactWriteCommand).resolves({});

    const response = await post({ ...input, email: '  Ada@Example.COM ' });

    expect(response.statusCode).toBe(201);
    const body = bodyOf(response);
    const id = String(body.id);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(response.headers).toMatchObject({ location: `/customers/${id}`, etag: '"1"' });
    const created = {
      id,
      ...input,
      email: 'ada@example.com',
      createdAt: body.createdAt,
      updatedAt: body.createdAt,
      version: 1,
    };
    expect(body).toEqual(created);
    expect(transactions()).toEqual([
      {
        TransactItems: [
          {
            Put: {
              TableName: TABLE_NAME,
              Item: { pk: `CUSTOMER#${id}`, sk: 'PROFILE', ...created },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          {
            Put: {
              TableName: TABLE_NAME,
              Item: { pk: 'EMAIL#ada@example.com', sk: 'EMAIL', customerId: id },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
        ],
      },
    ]);
  });

  it('defaults an omitted marketingOptIn to false, stored so, and leaves an omitted gitHubUsername out', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    const { gitHubUsername: _omitted, marketingOptIn: _default, ...minimal } = input;

    const response = await post(minimal);

    expect(response.statusCode).toBe(201);
    const body = bodyOf(response);
    expect(body.marketingOptIn).toBe(false);
    expect(body).not.toHaveProperty('gitHubUsername');
    const profile = transactions()[0]?.TransactItems?.[0]?.Put?.Item;
    expect(profile).toEqual(expect.objectContaining({ sk: 'PROFILE', marketingOptIn: false }));
    expect(profile).not.toHaveProperty('gitHubUsername');
  });

  it('rejects a second customer with the same email (409)', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled('None', 'ConditionalCheckFailed'));

    const response = await post(input);

    expect(response.statusCode).toBe(409);
    expect(bodyOf(response).message).toContain('ada@example.com');
  });

  it('lets exactly one of two concurrent creates with the same email win (201 and 409)', async () => {
    ddb
      .on(TransactWriteCommand)
      .resolvesOnce({})
      .rejectsOnce(cancelled('None', 'ConditionalCheckFailed'));

    const responses = await Promise.all([post(input), post({ ...input, fullName: 'Other Ada' })]);

    expect(responses.map((response) => response.statusCode).sort()).toEqual([201, 409]);
    const claims = transactions().map((transaction) => transaction.TransactItems?.[1]?.Put?.Item);
    expect(claims).toEqual([
      expect.objectContaining({ pk: 'EMAIL#ada@example.com', sk: 'EMAIL' }),
      expect.objectContaining({ pk: 'EMAIL#ada@example.com', sk: 'EMAIL' }),
    ]);
  });

  it('retries a transaction DynamoDB cancelled for a conflict, and creates (201)', async () => {
    ddb.on(TransactWriteCommand).rejectsOnce(cancelled('TransactionConflict', 'None')).resolves({});

    const response = await post(input);

    expect(response.statusCode).toBe(201);
    const [first, second] = transactions();
    expect(second).toEqual(first);
    expect(loggedErrors).not.toHaveBeenCalled();
  });

  it('retries a transaction cancelled for throttling the same way', async () => {
    ddb.on(TransactWriteCommand).rejectsOnce(cancelled('None', 'ThrottlingError')).resolves({});

    const response = await post(input);

    expect(response.statusCode).toBe(201);
    expect(transactions()).toHaveLength(2);
  });

  it('answers 503 with Retry-After when conflicts outlast three attempts, not mistaking them for a taken email', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled('TransactionConflict', 'None'));

    const response = await post(input);

    expect(response.statusCode).toBe(503);
    expect(response.headers).toMatchObject({ 'retry-after': '1', 'cache-control': 'no-store' });
    expect(bodyOf(response)).toEqual({ message: 'the customer store is busy; try again shortly' });
    expect(transactions()).toHaveLength(3);
    expect(loggedErrors).not.toHaveBeenCalled();
  });

  it('answers a cancellation that is neither a condition, a conflict nor throttling with 500, logged, at once', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled('ValidationError', 'None'));

    const response = await post(input);

    expect(response.statusCode).toBe(500);
    expect(bodyOf(response)).toEqual({ message: 'internal error' });
    expect(transactions()).toHaveLength(1);
    expect(loggedErrors).toHaveBeenCalledTimes(1);
  });

  it('accepts a base64-encoded body', async () => {
    ddb.on(TransactWriteCommand).resolves({});

    const response = await post(undefined, {
      body: Buffer.from(JSON.stringify(input)).toString('base64'),
      isBase64Encoded: true,
    });

    expect(response.statusCode).toBe(201);
  });

  it('measures the 16 KB limit in bytes, not characters (413)', async () => {
    // 'é' is two bytes in UTF-8: under 16 K characters, over 16 KB.
    const body = JSON.stringify({ ...input, fullName: 'é'.repeat(9000) });
    expect(body.length).toBeLessThan(16 * 1024);
    expect(Buffer.byteLength(body)).toBeGreaterThan(16 * 1024);

    const response = await post(undefined, { body });

    expect(response.statusCode).toBe(413);
    expect(writeCount()).toBe(0);
  });

  it('measures a base64 body after decoding it', async () => {
    const decoded = JSON.stringify({ ...input, fullName: 'x'.repeat(13_000) });
    const encoded = Buffer.from(decoded).toString('base64');
    expect(encoded.length).toBeGreaterThan(16 * 1024);

    const response = await post(undefined, { body: encoded, isBase64Encoded: true });

    expect(response.statusCode).toBe(422);
    expect(bodyOf(response).errors).toEqual([
      { field: 'fullName', message: expect.stringContaining('200') },
    ]);
  });

  it('accepts a body of exactly 16 KB as far as size goes', async () => {
    const prefix = JSON.stringify({ fullName: '' }).length;
    const body = JSON.stringify({ fullName: 'x'.repeat(16 * 1024 - prefix) });
    expect(Buffer.byteLength(body)).toBe(16 * 1024);

    const response = await post(undefined, { body });

    expect(response.statusCode).toBe(422);
  });

  it('rejects a missing body (400)', async () => {
    const response = await handler(apiEvent('POST /customers'));

    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).message).toBe('request body is required');
  });

  it('rejects malformed JSON (400)', async () => {
    const response = await post(undefined, { body: '{"fullName": "Ada",' });

    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).message).toBe('request body is not valid JSON');
  });

  it('lists every invalid, missing and unknown field (422)', async () => {
    const response = await post({
      fullName: '   ',
      email: 'not-an-email',
      gitHubUsername: '-abc',
      marketingOptIn: 'yes',
      nickname: 'Ada',
      role: 'admin',
    });

    expect(response.statusCode).toBe(422);
    const body = bodyOf(response);
    expect(body.message).toBe('request body is invalid');
    const errors = body.errors as { field: string; message: string }[];
    expect(errors.map((error) => error.field).sort()).toEqual([
      'dateOfBirth',
      'email',
      'fullName',
      'gitHubUsername',
      'marketingOptIn',
      'nickname',
      'role',
    ]);
    expect(errors).toContainEqual({ field: 'nickname', message: 'unknown field' });
    expect(errors).toContainEqual({
      field: 'gitHubUsername',
      message: 'must follow GitHub username rules',
    });
    expect(writeCount()).toBe(0);
  });

  const hostile: readonly [string, string | undefined][] = [
    ['an array', '[]'],
    ['null', 'null'],
    ['a string', '"x"'],
    ['a number', '42'],
    ['a boolean', 'true'],
    ['an empty object', '{}'],
    ['an empty body', ''],
    ['no body', undefined],
    ['truncated JSON', '{"fullName":'],
    ['not JSON at all', 'fullName=Ada'],
    ['a huge string field', JSON.stringify({ ...input, fullName: 'A'.repeat(15_000) })],
    ['a body over 16 KB', JSON.stringify({ ...input, fullName: 'A'.repeat(17_000) })],
    ['a number for the name', JSON.stringify({ ...input, fullName: 42 })],
    ['a string for the opt-in', JSON.stringify({ ...input, marketingOptIn: 'true' })],
    ['an object for the email', JSON.stringify({ ...input, email: { $ne: '' } })],
    ['30 February', JSON.stringify({ ...input, dateOfBirth: '2023-02-30' })],
    ['a future birth date', JSON.stringify({ ...input, dateOfBirth: '2999-01-01' })],
    ['an unpadded date', JSON.stringify({ ...input, dateOfBirth: '1990-1-1' })],
    ['a date-time for a date', JSON.stringify({ ...input, dateOfBirth: '1990-01-01T00:00:00Z' })],
    ['a GitHub name starting with a hyphen', JSON.stringify({ ...input, gitHubUsername: '-abc' })],
    ['a GitHub name with a double hyphen', JSON.stringify({ ...input, gitHubUsername: 'a--b' })],
    ['a 40-character GitHub name', JSON.stringify({ ...input, gitHubUsername: 'a'.repeat(40) })],
    ['an invalid email', JSON.stringify({ ...input, email: 'ada@' })],
    ['an over-long email', JSON.stringify({ ...input, email: `${'a'.repeat(250)}@example.com` })],
    ['a server-owned field', JSON.stringify({ ...input, version: 99 })],
    ['a prototype key', `{"__proto__":{"admin":true},${JSON.stringify(input).slice(1)}`],
  ];

  it.each(hostile)('answers %s with a 4xx and writes nothing', async (_name, body) => {
    const response = await handler(apiEvent('POST /customers', { body }));

    expect(response.statusCode).toBeGreaterThanOrEqual(400);
    expect(response.statusCode).toBeLessThan(500);
    expect(typeof bodyOf(response).message).toBe('string');
    expect(ddb.calls()).toHaveLength(0);
    expect(writeCount()).toBe(0);
  });
});

// ---- GET /customers/{idOrEmail} -----------------------------------------------------------

describe('GET /customers/{idOrEmail}', () => {
  it('reads a customer by id with one point read, without its keys (200, ETag)', async () => {
    givenStored();

    const response = await get(ID);

    expect(response.statusCode).toBe(200);
    expect(response.headers).toMatchObject({ etag: '"3"' });
    expect(bodyOf(response)).toEqual(stored);
    expect(ddb.commandCalls(GetCommand).map((call) => call.args[0].input)).toEqual([
      profileGet(false),
    ]);
  });

  it('reads a customer by mixed-case email: the claim, then the profile', async () => {
    ddb
      .on(GetCommand, { Key: { pk: 'EMAIL#ada@example.com', sk: 'EMAIL' } })
      .resolves({ Item: { pk: 'EMAIL#ada@example.com', sk: 'EMAIL', customerId: ID } });
    givenStored();

    // API Gateway decodes the path once: `/customers/Ada%40Example.com` arrives so.
    const response = await get('Ada@Example.com');

    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toEqual(stored);
    expect(ddb.commandCalls(GetCommand).map((call) => call.args[0].input)).toEqual([
      {
        TableName: TABLE_NAME,
        Key: { pk: 'EMAIL#ada@example.com', sk: 'EMAIL' },
        ConsistentRead: false,
      },
      profileGet(false),
    ]);
  });

  it('reads an upper-case spelling of an id as the same customer', async () => {
    givenStored();

    const response = await get(ID.toUpperCase());

    expect(response.statusCode).toBe(200);
    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input.Key).toEqual({
      pk: `CUSTOMER#${ID}`,
      sk: 'PROFILE',
    });
  });

  it('answers an unknown id with 404', async () => {
    ddb.on(GetCommand).resolves({});

    const response = await get(ID);

    expect(response.statusCode).toBe(404);
    expect(bodyOf(response).message).toBe(`customer ${ID} not found`);
  });

  it('answers an unclaimed email with 404 after one read', async () => {
    ddb.on(GetCommand).resolves({});

    const response = await get('nobody@example.com');

    expect(response.statusCode).toBe(404);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(1);
  });

  it('answers 404 when the claim names a customer whose profile has another email by now', async () => {
    // The claim and the profile are two eventually consistent reads: an email change
    // between them leaves a claim that no longer matches the profile it names.
    ddb
      .on(GetCommand, { Key: { pk: 'EMAIL#ada@example.com', sk: 'EMAIL' } })
      .resolves({ Item: { pk: 'EMAIL#ada@example.com', sk: 'EMAIL', customerId: ID } });
    givenStored({ ...storedItem, email: 'ada.king@example.com' });

    const response = await get('ada@example.com');

    expect(response.statusCode).toBe(404);
    expect(bodyOf(response).message).toBe('customer ada@example.com not found');
  });

  it('decodes the path parameter no further than API Gateway did', async () => {
    // `/customers/ada%2540example.com` reaches the function as `ada%40example.com`,
    // which is not `ada@example.com`.
    const response = await get('ada%40example.com');

    expect(response.statusCode).toBe(400);
    expect(ddb.calls()).toHaveLength(0);
  });

  it.each([
    ['neither an id nor an email', 'not-a-customer'],
    ['a string that only looks URL-encoded', '%E0%A4%A'],
  ])('answers %s with 400 and reads nothing', async (_name, idOrEmail) => {
    const response = await get(idOrEmail);

    expect(response.statusCode).toBe(400);
    expect(typeof bodyOf(response).message).toBe('string');
    expect(ddb.calls()).toHaveLength(0);
  });

  it('answers 503 with Retry-After when DynamoDB stays throttled through the SDK retries', async () => {
    ddb
      .on(GetCommand)
      .rejects(new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} }));

    const response = await get(ID);

    expect(response.statusCode).toBe(503);
    expect(response.headers).toMatchObject({ 'retry-after': '1' });
    // The SDK retried the read already: no more calls than the one it made.
    expect(ddb.commandCalls(GetCommand)).toHaveLength(1);
    expect(loggedErrors).not.toHaveBeenCalled();
  });

  it('answers any other DynamoDB failure with 500 and logs it', async () => {
    ddb.on(GetCommand).rejects(
      Object.assign(new Error('Requested resource not found'), {
        name: 'ResourceNotFoundException',
        $fault: 'client',
      }),
    );

    const response = await get(ID);

    expect(response.statusCode).toBe(500);
    expect(bodyOf(response)).toEqual({ message: 'internal error' });
    expect(loggedErrors).toHaveBeenCalledWith(
      'unexpected error',
      expect.objectContaining({ routeKey: 'GET /customers/{idOrEmail}', error: expect.any(Error) }),
    );
  });
});

// ---- PUT /customers/{id} ------------------------------------------------------------------

describe('PUT /customers/{id}', () => {
  it('replaces the profile under an optimistic lock and returns the new ETag (200)', async () => {
    givenStored();
    ddb.on(TransactWriteCommand).resolves({});

    const response = await put(
      ID,
      { ...input, fullName: 'Augusta Ada King', marketingOptIn: true },
      '"3"',
    );

    expect(response.statusCode).toBe(200);
    expect(response.headers).toMatchObject({ etag: '"4"' });
    const body = bodyOf(response);
    const replaced = {
      ...stored,
      fullName: 'Augusta Ada King',
      marketingOptIn: true,
      updatedAt: body.updatedAt,
      version: 4,
    };
    expect(body).toEqual(replaced);
    expect(body.updatedAt).not.toBe(stored.updatedAt);
    expect(ddb.commandCalls(GetCommand).map((call) => call.args[0].input)).toEqual([
      profileGet(true),
    ]);
    expect(transactions()).toEqual([
      {
        TransactItems: [
          {
            Put: {
              TableName: TABLE_NAME,
              Item: { pk: `CUSTOMER#${ID}`, sk: 'PROFILE', ...replaced },
              ConditionExpression: 'version = :expected',
              ExpressionAttributeValues: { ':expected': 3 },
            },
          },
        ],
      },
    ]);
  });

  it('keeps the avatar the avatar function recorded: a client cannot set or drop it', async () => {
    const avatar = storedAvatar;
    ddb.on(GetCommand).resolves({ Item: { ...storedItem, avatar } });
    ddb.on(TransactWriteCommand).resolves({});

    const response = await put(ID, { ...input, fullName: 'Augusta Ada King' }, '"3"');

    expect(response.statusCode).toBe(200);
    expect(bodyOf(response).avatar).toEqual(avatar);
    expect(transactions()[0]?.TransactItems?.[0]?.Put?.Item).toMatchObject({ avatar, version: 4 });
    // The input schema is strict: an avatar in the body is refused, not stored.
    const refused = await put(ID, { ...input, avatar: { ...avatar, versionId: 'forged' } }, '"4"');
    expect(refused.statusCode).toBe(422);
  });

  it('moves the email claim in the same transaction when the email changes', async () => {
    givenStored();
    ddb.on(TransactWriteCommand).resolves({});

    const response = await put(ID, { ...input, email: 'ADA@analytical.example' }, '"3"');

    expect(response.statusCode).toBe(200);
    expect(transactions()).toHaveLength(1);
    expect(transactions()[0]?.TransactItems).toEqual([
      {
        Put: expect.objectContaining({
          Item: expect.objectContaining({ pk: `CUSTOMER#${ID}`, email: 'ada@analytical.example' }),
          ConditionExpression: 'version = :expected',
        }),
      },
      {
        Delete: {
          TableName: TABLE_NAME,
          Key: { pk: 'EMAIL#ada@example.com', sk: 'EMAIL' },
          ConditionExpression: 'customerId = :id',
          ExpressionAttributeValues: { ':id': ID },
        },
      },
      {
        Put: {
          TableName: TABLE_NAME,
          Item: { pk: 'EMAIL#ada@analytical.example', sk: 'EMAIL', customerId: ID },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
    ]);
  });

  it('writes nothing when the replacement changes nothing (200, same ETag)', async () => {
    givenStored();

    const response = await put(ID, { ...input, email: ' ADA@example.com ' }, '"3"');

    expect(response.statusCode).toBe(200);
    expect(response.headers).toMatchObject({ etag: '"3"' });
    expect(bodyOf(response)).toEqual(stored);
    expect(writeCount()).toBe(0);
  });

  it('treats an omitted gitHubUsername as removing it', async () => {
    givenStored();
    ddb.on(TransactWriteCommand).resolves({});
    const { gitHubUsername: _removed, ...withoutGitHub } = input;

    const response = await put(ID, withoutGitHub, '*');

    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).not.toHaveProperty('gitHubUsername');
    expect(transactions()[0]?.TransactItems?.[0]?.Put?.Item).not.toHaveProperty('gitHubUsername');
  });

  it('requires If-Match (428) and reads nothing', async () => {
    const response = await put(ID, input);

    expect(response.statusCode).toBe(428);
    expect(ddb.calls()).toHaveLength(0);
  });

  it('refuses a stale If-Match (412) without writing', async () => {
    givenStored();

    const response = await put(ID, { ...input, fullName: 'Someone Else' }, '"2"');

    expect(response.statusCode).toBe(412);
    expect(writeCount()).toBe(0);
  });

  it('answers 412 when another write wins between the read and the transaction, without retrying', async () => {
    givenStored();
    ddb.on(TransactWriteCommand).rejects(cancelled('ConditionalCheckFailed'));

    const response = await put(ID, { ...input, fullName: 'Someone Else' }, '"3"');

    expect(response.statusCode).toBe(412);
    expect(transactions()).toHaveLength(1);
  });

  it("retries a PUT whose transaction collided with the welcome claim's check on the profile (200)", async () => {
    givenStored();
    ddb.on(TransactWriteCommand).rejectsOnce(cancelled('TransactionConflict')).resolves({});

    const response = await put(ID, { ...input, fullName: 'Ada King' }, '"3"');

    expect(response.statusCode).toBe(200);
    expect(response.headers).toMatchObject({ etag: '"4"' });
    expect(transactions()).toHaveLength(2);
  });

  it('accepts If-Match: * (any current representation)', async () => {
    givenStored();
    ddb.on(TransactWriteCommand).resolves({});

    const response = await put(ID, { ...input, fullName: 'Ada King' }, '*');

    expect(response.statusCode).toBe(200);
  });

  it.each(['2', 'garbage!!', '"2', 'W/2', '"3" "4"'])(
    'answers a malformed If-Match (%s) with 400 naming the header, and writes nothing',
    async (ifMatch) => {
      givenStored();

      const response = await put(ID, { ...input, fullName: 'Ada King' }, ifMatch);

      expect(response.statusCode).toBe(400);
      expect(bodyOf(response).message).toMatch(/If-Match/);
      expect(writeCount()).toBe(0);
    },
  );

  it('refuses to take an email another customer holds (409)', async () => {
    givenStored();
    ddb.on(TransactWriteCommand).rejects(cancelled('None', 'None', 'ConditionalCheckFailed'));

    const response = await put(ID, { ...input, email: 'grace@example.com' }, '"3"');

    expect(response.statusCode).toBe(409);
  });

  it('answers an unknown id with 404 and writes nothing', async () => {
    ddb.on(GetCommand).resolves({});

    const response = await put(OTHER_ID, input, '"1"');

    expect(response.statusCode).toBe(404);
    expect(writeCount()).toBe(0);
  });

  it('validates the body like POST (422) before touching the table', async () => {
    const response = await put(ID, { ...input, dateOfBirth: '2023-02-30', id: OTHER_ID }, '"3"');

    expect(response.statusCode).toBe(422);
    const errors = bodyOf(response).errors as { field: string }[];
    expect(errors.map((error) => error.field).sort()).toEqual(['dateOfBirth', 'id']);
    expect(ddb.calls()).toHaveLength(0);
  });

  it('answers an id that is not a UUID with 400', async () => {
    const response = await put('ada@example.com', input, '"3"');

    expect(response.statusCode).toBe(400);
    expect(ddb.calls()).toHaveLength(0);
  });
});

// ---- DELETE /customers/{id} ---------------------------------------------------------------

describe('DELETE /customers/{id}', () => {
  it('deletes the profile, the email and welcome claims and leaves a tombstone, in one transaction (204)', async () => {
    givenStored();
    ddb.on(TransactWriteCommand).resolves({});
    const before = Math.floor(Date.now() / 1000);

    const response = await del(ID, '"3"');

    expect(response.statusCode).toBe(204);
    expect(response.body).toBeUndefined();
    expect(response.headers).toEqual({ 'cache-control': 'no-store' });
    expect(ddb.commandCalls(GetCommand).map((call) => call.args[0].input)).toEqual([
      profileGet(true),
    ]);
    // Every item is named by its key: nothing is listed first, so nothing written while
    // the deletion runs can be missed.
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
    const [transaction] = transactions();
    expect(transaction?.TransactItems?.slice(0, 3)).toEqual([
      {
        Delete: {
          TableName: TABLE_NAME,
          Key: { pk: `CUSTOMER#${ID}`, sk: 'PROFILE' },
          ConditionExpression: 'version = :expected',
          ExpressionAttributeValues: { ':expected': 3 },
        },
      },
      {
        Delete: {
          TableName: TABLE_NAME,
          Key: { pk: 'EMAIL#ada@example.com', sk: 'EMAIL' },
          ConditionExpression: 'customerId = :id',
          ExpressionAttributeValues: { ':id': ID },
        },
      },
      {
        Delete: {
          TableName: TABLE_NAME,
          Key: { pk: `CUSTOMER#${ID}`, sk: 'NOTIFICATION#WELCOME' },
        },
      },
    ]);
    const tombstone = transaction?.TransactItems?.[3]?.Put;
    expect(transaction?.TransactItems).toHaveLength(4);
    // Unconditional: it replaces whatever consent record the customer had.
    expect(tombstone).toEqual({
      TableName: TABLE_NAME,
      Item: {
        pk: `CUSTOMER#${ID}`,
        sk: 'MARKETING#CONSENT',
        consent: 'revoked',
        version: 4,
        deleted: true,
        deletedAt: expect.any(String),
        expiresAt: expect.any(Number),
      },
    });
    const expiresAt = tombstone?.Item?.expiresAt as number;
    expect(expiresAt).toBeGreaterThanOrEqual(before + 30 * 24 * 60 * 60);
    expect(expiresAt).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 30 * 24 * 60 * 60);
  });

  it('requires If-Match (428) and reads nothing', async () => {
    const response = await del(ID);

    expect(response.statusCode).toBe(428);
    expect(ddb.calls()).toHaveLength(0);
  });

  it('refuses a stale If-Match (412) without writing', async () => {
    givenStored();

    const response = await del(ID, 'W/"3"');

    expect(response.statusCode).toBe(412);
    expect(writeCount()).toBe(0);
  });

  it('answers an unknown id with 404 and writes nothing', async () => {
    ddb.on(GetCommand).resolves({});

    const response = await del(ID, '*');

    expect(response.statusCode).toBe(404);
    expect(writeCount()).toBe(0);
  });

  it('answers 412 when the profile changed between the read and the transaction', async () => {
    givenStored();
    ddb
      .on(TransactWriteCommand)
      .rejects(cancelled('ConditionalCheckFailed', 'None', 'None', 'None'));

    const response = await del(ID, '"3"');

    expect(response.statusCode).toBe(412);
  });

  it('answers 503 with Retry-After when the deletion keeps colliding, having written nothing', async () => {
    givenStored();
    ddb.on(TransactWriteCommand).rejects(cancelled('None', 'None', 'None', 'TransactionConflict'));

    const response = await del(ID, '"3"');

    expect(response.statusCode).toBe(503);
    expect(response.headers).toMatchObject({ 'retry-after': '1' });
    expect(transactions()).toHaveLength(3);
  });

  it('answers a malformed If-Match with 400 and writes nothing', async () => {
    givenStored();

    const response = await del(ID, '3');

    expect(response.statusCode).toBe(400);
    expect(writeCount()).toBe(0);
  });
});

// ---- routing ------------------------------------------------------------------------------

// The infrastructure routes exactly these here (test/constructs/customer-api.test.ts).
it.each(Object.values(CUSTOMER_ROUTES))(
  'dispatches %s, a route of the contract, instead of answering "not found"',
  async (routeKey) => {
    const response = await handler(
      apiEvent(routeKey, { pathParameters: { id: ID, idOrEmail: ID }, body: '{}' }),
    );

    expect(bodyOf(response).message).not.toBe('not found');
  },
);

it.each([
  'PATCH /customers/{id}',
  // The avatar upload route has a function of its own.
  'POST /customers/{id}/avatar-upload',
])('answers %s, a route it does not serve, with 404 and reads nothing', async (routeKey) => {
  const response = await handler(apiEvent(routeKey, { pathParameters: { id: ID } }));

  expect(response.statusCode).toBe(404);
  expect(bodyOf(response).message).toBe('not found');
  expect(ddb.calls()).toHaveLength(0);
});

// ---- business metrics ---------------------------------------------------------------------

describe('business metrics', () => {
  test('a creation: CustomersCreated and a 2xx answer, only the answer by version', async () => {
    ddb.on(TransactWriteCommand).resolves({});

    expect((await post(input)).statusCode).toBe(201);

    expect(emf.series()).toEqual([
      'Answers2xx{service=api,FunctionVersion=7} 1 Count',
      'Answers2xx{service=api} 1 Count',
      'CustomersCreated{service=api} 1 Count',
    ]);
  });

  test('a PUT that wrote counts CustomersUpdated; one that changed nothing does not', async () => {
    givenStored();
    ddb.on(TransactWriteCommand).resolves({});

    await put(ID, { ...input, fullName: 'Augusta Ada King' }, '"3"');
    await put(ID, input, '"3"');

    expect(emf.series()).toEqual([
      'Answers2xx{service=api,FunctionVersion=7} 1 Count',
      'Answers2xx{service=api,FunctionVersion=7} 1 Count',
      'Answers2xx{service=api} 1 Count',
      'Answers2xx{service=api} 1 Count',
      'CustomersUpdated{service=api} 1 Count',
    ]);
  });

  test('a deletion: CustomersDeleted (204)', async () => {
    givenStored();
    ddb.on(TransactWriteCommand).resolves({});

    expect((await del(ID, '"3"')).statusCode).toBe(204);

    expect(emf.series()).toContain('CustomersDeleted{service=api} 1 Count');
    expect(emf.series()).toContain('Answers2xx{service=api} 1 Count');
  });

  test('a refused write counts its 4xx answer and nothing written', async () => {
    givenStored();

    expect((await del(ID, '"2"')).statusCode).toBe(412);

    expect(emf.series()).toEqual([
      'Answers4xx{service=api,FunctionVersion=7} 1 Count',
      'Answers4xx{service=api} 1 Count',
    ]);
  });

  test('an unknown route is a 4xx answer, and a throttled read the 5xx of a 503', async () => {
    await handler(apiEvent('PATCH /customers/{id}', { pathParameters: { id: ID } }));
    ddb
      .on(GetCommand)
      .rejects(new ProvisionedThroughputExceededException({ message: 'throttled', $metadata: {} }));
    expect((await get(ID)).statusCode).toBe(503);
    ddb.on(GetCommand).rejects(new Error('the table is unreachable'));
    expect((await get(ID)).statusCode).toBe(500);

    expect(emf.series()).toEqual([
      'Answers4xx{service=api,FunctionVersion=7} 1 Count',
      'Answers4xx{service=api} 1 Count',
      'Answers5xx{service=api,FunctionVersion=7} 1 Count',
      'Answers5xx{service=api,FunctionVersion=7} 1 Count',
      'Answers5xx{service=api} 1 Count',
      'Answers5xx{service=api} 1 Count',
    ]);
  });
});
