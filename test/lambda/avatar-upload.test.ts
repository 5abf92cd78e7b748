import { Logger } from '@aws-lambda-powertools/logger';
import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { captureEmf, metricsEnvironment } from './emf';
import { apiEvent, bodyOf, ID, storedItem } from './http-fixtures';
import { type WithContext, withContext } from './lambda-context';

const TABLE_NAME = 'customers-table';
const BUCKET_NAME = 'customer-avatars-bucket';
const REGION = 'eu-west-1';
process.env.TABLE_NAME = TABLE_NAME;
process.env.BUCKET_NAME = BUCKET_NAME;
const MAX_BYTES = 5 * 1024 * 1024;
process.env.AVATAR_MAX_BYTES = String(MAX_BYTES);
// Presigning runs for real: it needs credentials and a region, never the network.
process.env.AWS_REGION = REGION;
metricsEnvironment('avatar-upload');
const emf = captureEmf();
process.env.AWS_ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

type HandlerModule = typeof import('../../lambda/avatar-upload/handler');
let handler: WithContext<HandlerModule['handler']>;

beforeAll(() => {
  // The module reads its env vars when it loads, so it is loaded only now.
  handler = withContext(
    jest.requireActual<HandlerModule>('../../lambda/avatar-upload/handler').handler,
  );
});

const ddb = mockClient(DynamoDBDocumentClient);
// Presigning signs locally: any command sent to S3 would be a bug.
const s3 = mockClient(S3Client);
let loggedErrors: jest.SpyInstance;

beforeEach(() => {
  loggedErrors = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
});

afterEach(() => {
  ddb.reset();
  s3.reset();
  jest.restoreAllMocks();
});

const ROUTE_KEY = 'POST /customers/{id}/avatar-upload';

/** `null`: a request without a body. */
const avatarUpload = (id: string, body: unknown = { contentType: 'image/png' }) =>
  handler(
    apiEvent(ROUTE_KEY, {
      pathParameters: { id },
      body: body === null ? undefined : JSON.stringify(body),
    }),
  );

/** The policy a presigned POST's fields carry, decoded. */
const policyOf = (fields: Record<string, string>) =>
  JSON.parse(Buffer.from(fields.Policy ?? '', 'base64').toString('utf8')) as {
    expiration: string;
    conditions: unknown[];
  };

const profileGets = () => ddb.commandCalls(GetCommand).map((call) => call.args[0].input);

const consistentProfileGet = {
  TableName: TABLE_NAME,
  Key: { pk: `CUSTOMER#${ID}`, sk: 'PROFILE' },
  ConsistentRead: true,
};

describe('POST /customers/{id}/avatar-upload', () => {
  it('presigns a POST whose policy pins avatar-uploads/<id>, the declared type and the size, expiring within 15 minutes, after one consistent read (200)', async () => {
    ddb.on(GetCommand).resolves({ Item: storedItem });
    const before = Date.now();

    const response = await avatarUpload(ID, { contentType: 'image/webp' });

    expect(response.statusCode).toBe(200);
    const body = bodyOf(response) as {
      url: string;
      fields: Record<string, string>;
      expiresAt: string;
      maxBytes: number;
    };
    expect(Object.keys(body).sort()).toEqual(['expiresAt', 'fields', 'maxBytes', 'url']);
    expect(body.url).toBe(`https://${BUCKET_NAME}.s3.${REGION}.amazonaws.com/`);
    expect(body.maxBytes).toBe(MAX_BYTES);
    expect(body.fields).toMatchObject({
      key: `avatar-uploads/${ID}`,
      'Content-Type': 'image/webp',
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Signature': expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    const policy = policyOf(body.fields);
    expect(policy.conditions).toEqual(
      expect.arrayContaining([
        ['content-length-range', 1, MAX_BYTES],
        { 'Content-Type': 'image/webp' },
        { key: `avatar-uploads/${ID}` },
        { bucket: BUCKET_NAME },
      ]),
    );
    const expires = Date.parse(policy.expiration);
    expect(expires - before).toBeLessThanOrEqual(900_000 + 1000);
    expect(expires - before).toBeGreaterThan(890_000);
    expect(Math.abs(Date.parse(body.expiresAt) - expires)).toBeLessThan(2000);
    expect(ddb.calls()).toHaveLength(1);
    expect(profileGets()).toEqual([consistentProfileGet]);
    expect(s3.calls()).toHaveLength(0);
    expect(emf.series()).toEqual([
      'Answers2xx{service=avatar-upload,FunctionVersion=7} 1 Count',
      'Answers2xx{service=avatar-upload} 1 Count',
    ]);
  });

  it('asked twice, signs two forms for the same key and writes nothing', async () => {
    ddb.on(GetCommand).resolves({ Item: storedItem });

    const forms = await Promise.all([
      avatarUpload(ID),
      avatarUpload(ID, { contentType: 'image/jpeg' }),
    ]);

    const fields = forms.map((r) => bodyOf(r).fields as Record<string, string>);
    expect(fields.map((f) => f.key)).toEqual([`avatar-uploads/${ID}`, `avatar-uploads/${ID}`]);
    expect(fields.map((f) => f['Content-Type'])).toEqual(['image/png', 'image/jpeg']);
    expect(fields[0]?.Policy).not.toBe(fields[1]?.Policy);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(2);
    expect(ddb.calls()).toHaveLength(2);
    expect(s3.calls()).toHaveLength(0);
  });

  it('reads an upper-case spelling of an id as the same customer and key', async () => {
    ddb.on(GetCommand).resolves({ Item: storedItem });

    const response = await avatarUpload(ID.toUpperCase());

    expect(response.statusCode).toBe(200);
    expect((bodyOf(response).fields as Record<string, string>).key).toBe(`avatar-uploads/${ID}`);
    expect(profileGets()).toEqual([consistentProfileGet]);
  });

  it.each([
    ['an SVG', { contentType: 'image/svg+xml' }, 422],
    ['HTML', { contentType: 'text/html' }, 422],
    ['no content type', {}, 422],
    ['another field', { contentType: 'image/png', key: 'customers/x.json' }, 422],
    ['no body', null, 400],
  ])('answers %s with %i and reads nothing', async (_, body, status) => {
    const response = await avatarUpload(ID, body);

    expect(response.statusCode).toBe(status);
    expect(ddb.calls()).toHaveLength(0);
    expect(s3.calls()).toHaveLength(0);
  });

  it('answers an unknown customer with 404 and presigns nothing', async () => {
    ddb.on(GetCommand).resolves({});

    const response = await avatarUpload(ID);

    expect(response.statusCode).toBe(404);
    expect(bodyOf(response)).toEqual({ message: `customer ${ID} not found` });
    expect(profileGets()).toEqual([consistentProfileGet]);
    expect(s3.calls()).toHaveLength(0);
  });

  it.each([
    // As API Gateway hands them over: decoded once.
    ['a path', '../../etc'],
    ['an email', 'ada@example.com'],
    ['a string that only looks URL-encoded', '%E0%A4%A'],
  ])('answers an id that is %s, not a UUID, with 400 and reads nothing', async (_name, id) => {
    const response = await avatarUpload(id);

    expect(response.statusCode).toBe(400);
    expect(typeof bodyOf(response).message).toBe('string');
    expect(ddb.calls()).toHaveLength(0);
    expect(s3.calls()).toHaveLength(0);
  });

  it('answers a throttled DynamoDB with 503 and Retry-After, presigning nothing', async () => {
    ddb
      .on(GetCommand)
      .rejects(new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} }));

    const response = await avatarUpload(ID);

    expect(response.statusCode).toBe(503);
    expect(response.headers).toMatchObject({ 'retry-after': '1' });
    expect(s3.calls()).toHaveLength(0);
  });

  it('answers any other DynamoDB failure with 500 and logs it, presigning nothing', async () => {
    ddb.on(GetCommand).rejects(
      Object.assign(new Error('Requested resource not found'), {
        name: 'ResourceNotFoundException',
        $fault: 'client',
      }),
    );

    const response = await avatarUpload(ID);

    expect(response.statusCode).toBe(500);
    expect(bodyOf(response)).toEqual({ message: 'internal error' });
    expect(loggedErrors).toHaveBeenCalledWith(
      'unexpected error',
      expect.objectContaining({ routeKey: ROUTE_KEY, error: expect.any(Error) }),
    );
  });
});
