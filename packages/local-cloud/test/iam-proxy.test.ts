import * as http from 'node:http';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { type AwsProxy, startAwsProxy } from '../src/aws-proxy';
import { RoleEnforcer } from '../src/iam/enforcer';
import { proxyIam } from '../src/iam/proxy-iam';
import type { ResourcePolicy } from '../src/iam/resource-policies';
import type { PolicyStatement } from '../src/iam/types';
import { closeServer, listenOnLoopback } from '../src/net';

// The proxy answers what a role does not allow as the service would, before the emulator
// sees the call; S3 turns the emulator's 404 into 403 for a caller that may not list the bucket.

const BUCKET = 'archive';
const TABLE = 'arn:aws:dynamodb:us-east-1:123456789012:table/customers';

/** An emulator that answers every call 404 (S3's HeadObject of a missing key) or `{}`. */
let upstream: http.Server;
let upstreamUrl: string;
const proxies: AwsProxy[] = [];
const clients: { destroy(): void }[] = [];
const enforcers = new Map<AwsProxy, RoleEnforcer>();
const enforcerOf = (proxy: AwsProxy): RoleEnforcer => {
  const enforcer = enforcers.get(proxy);
  if (enforcer === undefined) throw new Error('no enforcer for this proxy');
  return enforcer;
};
let reached = 0;

beforeAll(async () => {
  upstream = http.createServer((request, response) => {
    reached += 1;
    request.resume();
    if (request.method === 'HEAD') {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end('{}');
  });
  upstreamUrl = await listenOnLoopback(upstream);
});
afterAll(async () => {
  for (const client of clients) client.destroy();
  await Promise.all(proxies.map((p) => p.close()));
  await closeServer(upstream);
});

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:events';
const KEY = 'arn:aws:kms:us-east-1:123456789012:key/1234';

const proxyFor = async (statements: PolicyStatement[], resourcePolicies: ResourcePolicy[] = []) => {
  const enforcer = new RoleEnforcer(
    'fn',
    {
      name: 'role',
      policies: [{ name: 'policy', document: { Statement: statements } }],
      unknownManagedPolicies: [],
    },
    'enforce',
    'arn:aws:sts::123456789012:assumed-role/role/fn',
    {
      policies: {
        all: resourcePolicies,
        forResource: (arn) =>
          resourcePolicies.filter((p) => arn === p.resource || arn.startsWith(`${p.resource}/`)),
      },
      roleArn: 'arn:aws:iam::123456789012:role/role',
    },
  );
  const proxy = await startAwsProxy({
    caller: 'Fn',
    target: upstreamUrl,
    iam: proxyIam(
      enforcer,
      { region: 'us-east-1', accountId: '123456789012' },
      { topicKey: (topicArn) => (topicArn === TOPIC ? KEY : undefined) },
    ),
  });
  proxies.push(proxy);
  enforcers.set(proxy, enforcer);
  const config = {
    endpoint: proxy.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  };
  const s3 = new S3Client({ ...config, forcePathStyle: true });
  const dynamodb = new DynamoDBClient(config);
  const sns = new SNSClient(config);
  clients.push(s3, dynamodb, sns);
  return { proxy, s3, dynamodb, sns };
};

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: Error & { $metadata?: { httpStatusCode?: number } }) => ({
      name: error.name,
      status: error.$metadata?.httpStatusCode,
      message: error.message,
    }),
  );

test('a denied DynamoDB write is AccessDeniedException, naming the action and the table, and never reaches the emulator', async () => {
  const { dynamodb, proxy } = await proxyFor([
    { Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: TABLE },
  ]);
  const before = reached;
  const denied = await failure(
    dynamodb.send(new PutItemCommand({ TableName: TABLE, Item: { pk: { S: 'a' } } })),
  );
  expect(denied).toEqual({
    name: 'AccessDeniedException',
    status: 400,
    message: `User: arn:aws:sts::123456789012:assumed-role/role/fn is not authorized to perform: dynamodb:PutItem on resource: ${TABLE} because no identity-based policy allows the dynamodb:PutItem action`,
  });
  expect(reached).toBe(before);
  expect(proxy.calls()).toEqual([
    expect.objectContaining({
      operation: 'PutItem',
      status: 400,
      denied: `dynamodb:PutItem on ${TABLE}`,
    }),
  ]);
});

test('a denied S3 upload is AccessDenied 403', async () => {
  const { s3 } = await proxyFor([
    { Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${BUCKET}/*` },
  ]);
  expect(
    await failure(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'a.json', Body: '{}' }))),
  ).toMatchObject({ name: 'AccessDenied', status: 403 });
});

test('a bucket policy’s Deny refuses what the role allows, and the message says whose policy denied', async () => {
  const { s3 } = await proxyFor(
    [{ Effect: 'Allow', Action: 's3:PutObject', Resource: `arn:aws:s3:::${BUCKET}/*` }],
    [
      {
        name: 'ArchivePolicy',
        resource: `arn:aws:s3:::${BUCKET}`,
        document: {
          Statement: [
            {
              Effect: 'Deny',
              Principal: { AWS: '*' },
              Action: 's3:PutObject',
              Resource: `arn:aws:s3:::${BUCKET}/kept/*`,
            },
            // CDK's TLS-only statement: the local endpoint counts as TLS, so it denies nothing.
            {
              Effect: 'Deny',
              Principal: { AWS: '*' },
              Action: 's3:*',
              Resource: `arn:aws:s3:::${BUCKET}/*`,
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            },
          ],
        },
      },
    ],
  );
  expect(
    await failure(
      s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'kept/a.json', Body: '{}' })),
    ),
  ).toEqual({
    name: 'AccessDenied',
    status: 403,
    message: `User: arn:aws:sts::123456789012:assumed-role/role/fn is not authorized to perform: s3:PutObject on resource: arn:aws:s3:::${BUCKET}/kept/a.json with an explicit deny in a resource-based policy`,
  });
  await expect(
    s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'other/a.json', Body: '{}' })),
  ).resolves.toBeDefined();
});

test('a presigned POST is checked as the role that signed it: the key its form names', async () => {
  const { proxy } = await proxyFor([
    {
      Effect: 'Allow',
      Action: 's3:PutObject',
      Resource: `arn:aws:s3:::${BUCKET}/avatar-uploads/*`,
    },
  ]);
  const upload = (key: string) => {
    const form = new FormData();
    form.append('key', key);
    form.append('X-Amz-Algorithm', 'AWS4-HMAC-SHA256');
    form.append('Policy', 'e30=');
    form.append('file', new Blob(['png']), 'a.png');
    return fetch(`${proxy.url}/${BUCKET}`, { method: 'POST', body: form });
  };

  const allowed = await upload('avatar-uploads/c1');
  const denied = await upload('customers/c1.json');

  expect(allowed.status).toBe(200);
  expect(denied.status).toBe(403);
  expect(await denied.text()).toContain(
    's3:PutObject on resource: arn:aws:s3:::archive/customers/c1.json',
  );
  expect(proxy.calls().map((c) => [c.service, c.operation, c.status])).toEqual([
    ['s3', 'PostObject', 200],
    ['s3', 'PostObject', 403],
  ]);
});

test.each([
  ['without s3:ListBucket, a missing key is 403', [], 403],
  [
    'with s3:ListBucket, a missing key is 404',
    [{ Effect: 'Allow', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${BUCKET}` }],
    404,
  ],
] as [string, PolicyStatement[], number][])('%s', async (_, extra, status) => {
  const { s3, proxy } = await proxyFor([
    { Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${BUCKET}/*` },
    ...extra,
  ]);
  const missing = await failure(
    s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'gone.json' })),
  );
  expect(missing?.status).toBe(status);
  // The answer was s3:ListBucket's to decide: the report counts it used, or denied.
  const report = enforcerOf(proxy).report();
  if (status === 404) {
    expect(report.granted.find((g) => g.action === 's3:ListBucket')?.calls).toBe(1);
  } else {
    expect(report.denied.map((d) => d.action)).toEqual(['s3:ListBucket']);
  }
});

test('publishing to a topic encrypted with a customer managed key needs the key too: SNS asks KMS as the publisher', async () => {
  const publish: PolicyStatement = { Effect: 'Allow', Action: 'sns:Publish', Resource: TOPIC };
  const withoutKey = await proxyFor([publish]);
  expect(
    await failure(withoutKey.sns.send(new PublishCommand({ TopicArn: TOPIC, Message: 'x' }))),
  ).toMatchObject({
    // SNS's AuthorizationError, as the SDK models it.
    name: 'AuthorizationErrorException',
    status: 403,
    message: expect.stringContaining(`kms:GenerateDataKey on resource: ${KEY}`),
  });
  const withKey = await proxyFor([
    publish,
    { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey*'], Resource: KEY },
  ]);
  const before = reached;
  await failure(withKey.sns.send(new PublishCommand({ TopicArn: TOPIC, Message: 'x' })));
  expect(reached).toBe(before + 1);
  expect(withKey.proxy.calls()[0]?.denied).toBeUndefined();
});
