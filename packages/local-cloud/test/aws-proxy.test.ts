import { once } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  CreateSecretCommand,
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
  CreateQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { type AwsCall, type AwsProxy, startAwsProxy } from '../src/aws-proxy';
import { type RunningMoto, startMoto } from '../src/moto';
import { closeServer, listenOnLoopback } from '../src/net';
import { createCustomerTable } from './stream-tables';

const clientConfig = (endpoint: string, maxAttempts?: number) => ({
  endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  ...(maxAttempts === undefined ? {} : { maxAttempts }),
});

let moto: RunningMoto;
let proxy: AwsProxy;
const clients: { destroy(): void }[] = [];

/** An SDK client through the proxy, destroyed after the test. */
const through = <T extends { destroy(): void }>(
  Client: new (config: ReturnType<typeof clientConfig>) => T,
  maxAttempts?: number,
): T => {
  const client = new Client(clientConfig(proxy.url, maxAttempts));
  clients.push(client);
  return client;
};

/** What the proxy recorded, without the timings. */
const summary = (calls: readonly AwsCall[]) =>
  calls.map(({ caller, service, operation, status }) => ({ caller, service, operation, status }));

beforeAll(async () => {
  moto = await startMoto();
}, 60_000);

afterAll(async () => {
  await moto?.stop();
});

beforeEach(async () => {
  proxy = await startAwsProxy({ caller: 'stream-publisher', target: moto.endpoint });
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await proxy.close();
});

let tableCount = 0;
/** Created through the proxy, as the local cloud creates a table: CreateTable, DescribeTable. */
const createTable = async (dynamodb: DynamoDBClient): Promise<string> => {
  tableCount += 1;
  return (await createCustomerTable(dynamodb, `customers-${tableCount}`)).name;
};

describe('forwarding and counting', () => {
  it('counts SNS Publish and PublishBatch (query protocol)', async () => {
    const sns = through(SNSClient);
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: 'customer-events' }));
    const published = await sns.send(new PublishCommand({ TopicArn, Message: '{"a":1}' }));
    const batch = await sns.send(
      new PublishBatchCommand({
        TopicArn,
        PublishBatchRequestEntries: [
          { Id: '1', Message: 'one' },
          { Id: '2', Message: 'two' },
        ],
      }),
    );

    expect(published.MessageId).toEqual(expect.any(String));
    expect(batch.Successful).toHaveLength(2);
    expect(summary(proxy.calls())).toEqual([
      { caller: 'stream-publisher', service: 'sns', operation: 'CreateTopic', status: 200 },
      { caller: 'stream-publisher', service: 'sns', operation: 'Publish', status: 200 },
      { caller: 'stream-publisher', service: 'sns', operation: 'PublishBatch', status: 200 },
    ]);
  });

  it('counts SQS SendMessage and ReceiveMessage (JSON protocol)', async () => {
    const sqs = through(SQSClient);
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'welcome' }));
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'hello' }));
    const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl }));

    expect(Messages?.map(({ Body }) => Body)).toEqual(['hello']);
    expect(
      summary(proxy.calls()).map(({ service, operation }) => `${service} ${operation}`),
    ).toEqual(['sqs CreateQueue', 'sqs SendMessage', 'sqs ReceiveMessage']);
  });

  it('counts DynamoDB PutItem and TransactWriteItems, and Streams GetRecords as streams.dynamodb', async () => {
    const dynamodb = through(DynamoDBClient);
    const streams = through(DynamoDBStreamsClient);
    const TableName = await createTable(dynamodb);
    await dynamodb.send(
      new PutItemCommand({ TableName, Item: { pk: { S: 'CUSTOMER#1' }, sk: { S: 'PROFILE' } } }),
    );
    await dynamodb.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName, Item: { pk: { S: 'CUSTOMER#2' }, sk: { S: 'PROFILE' } } } },
          { Put: { TableName, Item: { pk: { S: 'EMAIL#b@example.com' }, sk: { S: 'EMAIL' } } } },
        ],
      }),
    );
    const { StreamDescription } = await streams.send(
      new DescribeStreamCommand({ StreamArn: await latestStreamArn(TableName) }),
    );
    const { ShardIterator } = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: StreamDescription?.StreamArn,
        ShardId: StreamDescription?.Shards?.[0]?.ShardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    const { Records } = await streams.send(new GetRecordsCommand({ ShardIterator }));

    expect(Records).toHaveLength(3);
    expect(
      summary(proxy.calls()).map(({ service, operation }) => `${service} ${operation}`),
    ).toEqual([
      'dynamodb CreateTable',
      'dynamodb DescribeTable',
      'dynamodb PutItem',
      'dynamodb TransactWriteItems',
      'streams.dynamodb DescribeStream',
      'streams.dynamodb GetShardIterator',
      'streams.dynamodb GetRecords',
    ]);
  });

  it('counts S3 REST operations, a presigned upload included', async () => {
    const s3 = through(S3Client);
    const Bucket = 'assets-bucket';
    await s3.send(new CreateBucketCommand({ Bucket }));
    await s3.send(
      new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }),
    );
    await s3.send(new PutObjectCommand({ Bucket, Key: 'customers/1.json', Body: '{"v":1}' }));
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'customers/1.json' }));
    const presigned = await getSignedUrl(s3, new PutObjectCommand({ Bucket, Key: 'avatars/1' }), {
      expiresIn: 900,
    });
    const upload = await fetch(presigned, { method: 'PUT', body: 'avatar bytes' });
    const { Versions } = await s3.send(
      new ListObjectVersionsCommand({ Bucket, Prefix: 'customers/' }),
    );
    await s3.send(
      new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'customers/1.json' }] } }),
    );

    expect(head.ContentLength).toBe(7);
    expect(upload.status).toBe(200);
    expect(Versions).toHaveLength(1);
    expect(
      summary(proxy.calls()).map(({ service, operation }) => `${service} ${operation}`),
    ).toEqual([
      's3 CreateBucket',
      's3 PutBucketVersioning',
      's3 PutObject',
      's3 HeadObject',
      's3 PutObject',
      's3 ListObjectVersions',
      's3 DeleteObjects',
    ]);
  });

  it('counts Secrets Manager GetSecretValue', async () => {
    const secrets = through(SecretsManagerClient);
    const { ARN } = await secrets.send(
      new CreateSecretCommand({ Name: 'notification-api-key', SecretString: 'placeholder' }),
    );
    const { SecretString } = await secrets.send(new GetSecretValueCommand({ SecretId: ARN }));

    expect(SecretString).toBe('placeholder');
    expect(
      summary(proxy.calls()).map(({ service, operation }) => `${service} ${operation}`),
    ).toEqual(['secretsmanager CreateSecret', 'secretsmanager GetSecretValue']);
  });

  it('reports every call to onCall, with when it started and how long it took', async () => {
    const reported: AwsCall[] = [];
    const observed = await startAwsProxy({
      caller: 'archive',
      target: moto.endpoint,
      onCall: (call) => reported.push(call),
    });
    const sns = new SNSClient(clientConfig(observed.url));
    const before = Date.now();
    try {
      await sns.send(new CreateTopicCommand({ Name: 'observed' }));
    } finally {
      sns.destroy();
      await observed.close();
    }

    expect(reported).toEqual(observed.calls());
    expect(reported).toEqual([
      expect.objectContaining({ caller: 'archive', service: 'sns', operation: 'CreateTopic' }),
    ]);
    expect(reported[0]?.startedAt).toBeGreaterThanOrEqual(before);
    expect(reported[0]?.durationMs).toBeGreaterThanOrEqual(0);
  });
});

/** The table's stream ARN, read around the proxy so it does not show in the counts. */
const latestStreamArn = async (TableName: string): Promise<string> => {
  const direct = new DynamoDBClient(clientConfig(moto.endpoint));
  try {
    const { Table } = await direct.send(new DescribeTableCommand({ TableName }));
    if (!Table?.LatestStreamArn) throw new Error(`${TableName} has no stream`);
    return Table.LatestStreamArn;
  } finally {
    direct.destroy();
  }
};

describe('faults', () => {
  it('makes SNS unreachable for this caller while DynamoDB still answers', async () => {
    const sns = through(SNSClient, 1);
    const dynamodb = through(DynamoDBClient, 1);
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: 'unreachable' }));
    const TableName = await createTable(dynamodb);
    proxy.addFault({ service: 'sns', mode: 'unreachable' });

    await expect(sns.send(new PublishCommand({ TopicArn, Message: 'lost' }))).rejects.toThrow();
    await dynamodb.send(
      new PutItemCommand({ TableName, Item: { pk: { S: 'CUSTOMER#1' }, sk: { S: 'PROFILE' } } }),
    );

    expect(summary(proxy.calls()).slice(3)).toEqual([
      { caller: 'stream-publisher', service: 'sns', operation: 'Publish', status: 0 },
      { caller: 'stream-publisher', service: 'dynamodb', operation: 'PutItem', status: 200 },
    ]);
  });

  it('affects only as many calls as remaining says: the SDK retry then succeeds', async () => {
    const sns = through(SNSClient);
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: 'flaky' }));
    proxy.addFault({ service: 'sns', operation: 'Publish', mode: 'unreachable', remaining: 1 });

    await sns.send(new PublishCommand({ TopicArn, Message: 'retried' }));
    await sns.send(new PublishCommand({ TopicArn, Message: 'unaffected' }));

    expect(summary(proxy.calls()).map(({ operation, status }) => `${operation} ${status}`)).toEqual(
      ['CreateTopic 200', 'Publish 0', 'Publish 200', 'Publish 200'],
    );
  });

  it('answers a JSON-protocol call with an AWS-shaped 500 in error mode', async () => {
    const dynamodb = through(DynamoDBClient, 1);
    const TableName = await createTable(dynamodb);
    proxy.addFault({ service: 'dynamodb', operation: 'GetItem', mode: 'error', remaining: 1 });
    const key = { pk: { S: 'CUSTOMER#1' }, sk: { S: 'PROFILE' } };

    await expect(dynamodb.send(new GetItemCommand({ TableName, Key: key }))).rejects.toMatchObject({
      name: 'InternalFailure',
      message: 'injected by the local cloud',
      $metadata: { httpStatusCode: 500 },
    });
    await dynamodb.send(new GetItemCommand({ TableName, Key: key }));

    expect(summary(proxy.calls()).map(({ operation, status }) => `${operation} ${status}`)).toEqual(
      ['CreateTable 200', 'DescribeTable 200', 'GetItem 500', 'GetItem 200'],
    );
  });

  it('answers a query-protocol call with an XML ErrorResponse in error mode', async () => {
    const sns = through(SNSClient, 1);
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: 'erroring' }));
    proxy.addFault({ service: 'sns', operation: 'PublishBatch', mode: 'error' });

    await expect(
      sns.send(
        new PublishBatchCommand({
          TopicArn,
          PublishBatchRequestEntries: [{ Id: '1', Message: 'x' }],
        }),
      ),
    ).rejects.toMatchObject({
      name: 'InternalFailure',
      message: 'injected by the local cloud',
      $metadata: { httpStatusCode: 500 },
    });
    // Only PublishBatch is affected.
    await sns.send(new PublishCommand({ TopicArn, Message: 'single' }));

    expect(summary(proxy.calls()).map(({ operation, status }) => `${operation} ${status}`)).toEqual(
      ['CreateTopic 200', 'PublishBatch 500', 'Publish 200'],
    );
  });

  it('answers an S3 call with an S3-shaped error in error mode', async () => {
    const s3 = through(S3Client, 1);
    await s3.send(new CreateBucketCommand({ Bucket: 'erroring-bucket' }));
    proxy.addFault({ service: 's3', mode: 'error' });

    await expect(
      s3.send(new PutObjectCommand({ Bucket: 'erroring-bucket', Key: 'k', Body: 'x' })),
    ).rejects.toMatchObject({ name: 'InternalError', $metadata: { httpStatusCode: 500 } });
  });

  it('stops injecting after clearFaults', async () => {
    const sns = through(SNSClient, 1);
    proxy.addFault({ service: 'sns', mode: 'unreachable' });
    await expect(sns.send(new CreateTopicCommand({ Name: 'cleared' }))).rejects.toThrow();

    proxy.clearFaults();
    await sns.send(new CreateTopicCommand({ Name: 'cleared' }));

    expect(summary(proxy.calls()).map(({ status }) => status)).toEqual([0, 200]);
  });
});

describe('the wire', () => {
  /** A stand-in emulator that records what reaches it and answers with a streamed body. */
  const startRecorder = async () => {
    const received: { method?: string; url?: string; headers: string[]; body: string }[] = [];
    const server = http.createServer(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      received.push({
        method: request.method,
        url: request.url,
        headers: request.rawHeaders,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      response.writeHead(207, { 'x-amzn-requestid': 'recorded', 'content-type': 'text/plain' });
      response.write('part one, ');
      response.end('part two');
    });
    const url = await listenOnLoopback(server);
    return { url, received, close: () => closeServer(server) };
  };

  it('forwards method, path, query, headers (Host included) and body unchanged, and streams the answer back', async () => {
    const recorder = await startRecorder();
    const wire = await startAwsProxy({ caller: 'api', target: recorder.url });
    try {
      const { host, port } = new URL(wire.url);
      const body = 'x'.repeat(200_000);
      const headers = {
        Host: host,
        Authorization:
          'AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc',
        'X-Amz-Date': '20260101T000000Z',
        'Content-Length': String(body.length),
      };
      const answer = await new Promise<{
        status?: number;
        headers: http.IncomingHttpHeaders;
        text: string;
      }>((resolve, reject) => {
        const request = http.request(
          {
            host: '127.0.0.1',
            port,
            method: 'PUT',
            path: '/bucket/key%20one?x-id=PutObject',
            headers,
          },
          async (response) => {
            const chunks: Buffer[] = [];
            for await (const chunk of response) chunks.push(chunk as Buffer);
            resolve({
              status: response.statusCode,
              headers: response.headers,
              text: Buffer.concat(chunks).toString('utf8'),
            });
          },
        );
        request.on('error', reject);
        request.end(body);
      });

      expect(answer).toMatchObject({
        status: 207,
        headers: { 'x-amzn-requestid': 'recorded' },
        text: 'part one, part two',
      });
      expect(recorder.received).toHaveLength(1);
      const [forwarded] = recorder.received;
      expect(forwarded?.method).toBe('PUT');
      expect(forwarded?.url).toBe('/bucket/key%20one?x-id=PutObject');
      expect(forwarded?.body).toBe(body);
      for (const [name, value] of Object.entries(headers)) {
        const index = forwarded?.headers.indexOf(name) ?? -1;
        expect([name, forwarded?.headers[index + 1]]).toEqual([name, value]);
      }
      expect(summary(wire.calls())).toEqual([
        { caller: 'api', service: 's3', operation: 'PutObject', status: 207 },
      ]);
    } finally {
      await wire.close();
      await recorder.close();
    }
  });

  it('counts an unsigned, unrecognised request as Unknown', async () => {
    const recorder = await startRecorder();
    const wire = await startAwsProxy({ caller: 'api', target: recorder.url });
    try {
      const response = await fetch(`${wire.url}/whatever`);
      await response.text();
      expect(summary(wire.calls())).toEqual([
        { caller: 'api', service: 'unknown', operation: 'Unknown', status: 207 },
      ]);
    } finally {
      await wire.close();
      await recorder.close();
    }
  });

  it('drops the connection, and counts status 0, when the emulator is gone', async () => {
    const recorder = await startRecorder();
    await recorder.close();
    const wire = await startAwsProxy({ caller: 'api', target: recorder.url });
    try {
      await expect(fetch(`${wire.url}/`)).rejects.toThrow();
      expect(summary(wire.calls())).toEqual([
        { caller: 'api', service: 'unknown', operation: 'Unknown', status: 0 },
      ]);
    } finally {
      await wire.close();
    }
  });
});

describe('close', () => {
  it('frees the port, even with a keep-alive connection open', async () => {
    const closing = await startAwsProxy({ caller: 'welcome', target: moto.endpoint });
    const sns = new SNSClient(clientConfig(closing.url));
    await sns.send(new CreateTopicCommand({ Name: 'keep-alive' }));
    const port = Number(new URL(closing.url).port);

    await closing.close();
    sns.destroy();

    const server = http.createServer();
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    expect((server.address() as AddressInfo).port).toBe(port);
    await closeServer(server);
  });
});
