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
import { type AwsCall, type AwsProxy, type FaultKind, startAwsProxy } from '../src/aws-proxy';
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
  calls.map(({ caller, service, operation, status, fault }) => ({
    caller,
    service,
    operation,
    status,
    ...(fault === undefined ? {} : { fault }),
  }));

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
    proxy.addFault({ service: 'sns', kind: 'ResetBefore' });

    await expect(sns.send(new PublishCommand({ TopicArn, Message: 'lost' }))).rejects.toThrow();
    await dynamodb.send(
      new PutItemCommand({ TableName, Item: { pk: { S: 'CUSTOMER#1' }, sk: { S: 'PROFILE' } } }),
    );

    expect(summary(proxy.calls()).slice(3)).toEqual([
      {
        caller: 'stream-publisher',
        service: 'sns',
        operation: 'Publish',
        status: 0,
        fault: 'ResetBefore',
      },
      { caller: 'stream-publisher', service: 'dynamodb', operation: 'PutItem', status: 200 },
    ]);
  });

  it('affects only as many calls as remaining says: the SDK retry then succeeds', async () => {
    const sns = through(SNSClient);
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: 'flaky' }));
    proxy.addFault({ service: 'sns', operation: 'Publish', kind: 'ResetBefore', remaining: 1 });

    await sns.send(new PublishCommand({ TopicArn, Message: 'retried' }));
    await sns.send(new PublishCommand({ TopicArn, Message: 'unaffected' }));

    expect(summary(proxy.calls()).map(({ operation, status }) => `${operation} ${status}`)).toEqual(
      ['CreateTopic 200', 'Publish 0', 'Publish 200', 'Publish 200'],
    );
  });

  it('stops injecting after clearFaults', async () => {
    const sns = through(SNSClient, 1);
    proxy.addFault({ service: 'sns', kind: 'ResetBefore' });
    await expect(sns.send(new CreateTopicCommand({ Name: 'cleared' }))).rejects.toThrow();

    proxy.clearFaults();
    await sns.send(new CreateTopicCommand({ Name: 'cleared' }));

    expect(summary(proxy.calls()).map(({ status }) => status)).toEqual([0, 200]);
  });

  it('hits the next N calls only, counting down', async () => {
    const sns = through(SNSClient, 1);
    proxy.addFault({
      service: 'sns',
      operation: 'CreateTopic',
      kind: 'InternalError',
      remaining: 2,
    });

    const outcomes: string[] = [];
    for (let index = 0; index < 4; index += 1) {
      await sns.send(new CreateTopicCommand({ Name: `countdown-${index}` })).then(
        () => outcomes.push('ok'),
        (error: Error) => outcomes.push(error.name),
      );
    }

    // SNS models its InternalError code as InternalErrorException.
    expect(outcomes).toEqual(['InternalErrorException', 'InternalErrorException', 'ok', 'ok']);
  });
});

/** A client straight to the emulator, for what a test sets up or checks around the proxy. */
const direct = <T extends { destroy(): void }>(
  Client: new (config: ReturnType<typeof clientConfig>) => T,
): T => {
  const client = new Client(clientConfig(moto.endpoint));
  clients.push(client);
  return client;
};

const customerKey = (id: string) => ({ pk: { S: `CUSTOMER#${id}` }, sk: { S: 'PROFILE' } });

/** The item as the emulator holds it, read around the proxy. */
const storedItem = async (TableName: string, id: string) =>
  (await direct(DynamoDBClient).send(new GetItemCommand({ TableName, Key: customerKey(id) }))).Item;

/** A table made around the proxy, so it neither meets faults nor shows in the counts. */
const directTable = () => createTable(direct(DynamoDBClient));

/** One call of a service's operation through the proxy, its resources made around it. */
const CALLS: Record<string, (maxAttempts?: number) => Promise<unknown>> = {
  'dynamodb PutItem': async (maxAttempts) => {
    const TableName = await directTable();
    return through(DynamoDBClient, maxAttempts).send(
      new PutItemCommand({ TableName, Item: customerKey('1') }),
    );
  },
  'dynamodb GetItem': async (maxAttempts) => {
    const TableName = await directTable();
    return through(DynamoDBClient, maxAttempts).send(
      new GetItemCommand({ TableName, Key: customerKey('1') }),
    );
  },
  'dynamodb DescribeTable': async (maxAttempts) => {
    const TableName = await directTable();
    return through(DynamoDBClient, maxAttempts).send(new DescribeTableCommand({ TableName }));
  },
  'sns Publish': async (maxAttempts) => {
    const { TopicArn } = await direct(SNSClient).send(new CreateTopicCommand({ Name: 'faults' }));
    return through(SNSClient, maxAttempts).send(new PublishCommand({ TopicArn, Message: 'x' }));
  },
  'sqs SendMessage': async (maxAttempts) => {
    const { QueueUrl } = await direct(SQSClient).send(
      new CreateQueueCommand({ QueueName: 'faults' }),
    );
    return through(SQSClient, maxAttempts).send(
      new SendMessageCommand({ QueueUrl, MessageBody: 'x' }),
    );
  },
  's3 PutObject': async (maxAttempts) => {
    await direct(S3Client).send(new CreateBucketCommand({ Bucket: 'faults-bucket' }));
    return through(S3Client, maxAttempts).send(
      new PutObjectCommand({ Bucket: 'faults-bucket', Key: 'k', Body: 'x' }),
    );
  },
  'secretsmanager GetSecretValue': async (maxAttempts) => {
    const secrets = direct(SecretsManagerClient);
    const { ARN } = await secrets.send(
      new CreateSecretCommand({ Name: `faults-${Date.now()}`, SecretString: 'x' }),
    );
    return through(SecretsManagerClient, maxAttempts).send(
      new GetSecretValueCommand({ SecretId: ARN }),
    );
  },
};

const faultOn = (call: string, kind: FaultKind, remaining?: number) => {
  const [service = '', operation = ''] = call.split(' ');
  proxy.addFault({ service, operation, kind, remaining });
};

describe('injected AWS errors, as the SDK sees them', () => {
  it.each([
    ['dynamodb PutItem', 'Throttling', 'ProvisionedThroughputExceededException', 400],
    ['dynamodb DescribeTable', 'Throttling', 'ThrottlingException', 400],
    ['sns Publish', 'Throttling', 'ThrottlingException', 400],
    ['sqs SendMessage', 'Throttling', 'ThrottlingException', 400],
    ['s3 PutObject', 'Throttling', 'SlowDown', 503],
    ['dynamodb GetItem', 'InternalError', 'InternalServerError', 500],
    ['sns Publish', 'InternalError', 'InternalErrorException', 500],
    ['sqs SendMessage', 'InternalError', 'InternalFailure', 500],
    ['s3 PutObject', 'InternalError', 'InternalError', 500],
    ['secretsmanager GetSecretValue', 'InternalError', 'InternalServiceError', 500],
    ['dynamodb PutItem', 'TransactionConflict', 'TransactionConflictException', 400],
  ] as const)('%s with %s: %s (%i)', async (call, kind, name, status) => {
    faultOn(call, kind);

    await expect(CALLS[call]?.(1)).rejects.toMatchObject({
      name,
      $fault: status >= 500 ? 'server' : 'client',
      $metadata: { httpStatusCode: status },
    });
    expect(proxy.calls().at(-1)).toMatchObject({ status, fault: kind });
  });

  // The SDK's standard retry strategy retries THROTTLING and TRANSIENT errors only
  // (src/faults.ts says which codes land where): with one fault, its second attempt passes.
  it.each([
    ['dynamodb PutItem', 'Throttling'],
    ['s3 PutObject', 'Throttling'],
    ['sns Publish', 'InternalError'],
    ['dynamodb GetItem', 'ResetBefore'],
  ] as const)('the SDK retries %s after %s, and the retry succeeds', async (call, kind) => {
    faultOn(call, kind, 1);

    await CALLS[call]?.(2);

    expect(summary(proxy.calls()).map(({ status, fault }) => [status, fault])).toEqual([
      [kind === 'ResetBefore' ? 0 : expect.any(Number), kind],
      [200, undefined],
    ]);
  });

  it('cancels a TransactWriteItems with TransactionConflict on its first item and None on the rest; the SDK does not retry it', async () => {
    const TableName = await directTable();
    const dynamodb = through(DynamoDBClient);
    proxy.addFault({ service: 'dynamodb', kind: 'TransactionConflict', remaining: 1 });

    const error = await dynamodb
      .send(
        new TransactWriteItemsCommand({
          TransactItems: ['1', '2', '3'].map((id) => ({
            Put: { TableName, Item: customerKey(id) },
          })),
        }),
      )
      .catch((caught: unknown) => caught);

    expect(error).toMatchObject({
      name: 'TransactionCanceledException',
      $fault: 'client',
      $metadata: { httpStatusCode: 400, attempts: 1 },
    });
    expect((error as { CancellationReasons?: unknown }).CancellationReasons).toEqual([
      { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' },
      { Code: 'None' },
      { Code: 'None' },
    ]);
    expect(await storedItem(TableName, '1')).toBeUndefined();
    expect(summary(proxy.calls())).toEqual([
      {
        caller: 'stream-publisher',
        service: 'dynamodb',
        operation: 'TransactWriteItems',
        status: 400,
        fault: 'TransactionConflict',
      },
    ]);
  });

  it('leaves reads alone under a TransactionConflict fault: no read conflicts with a transaction', async () => {
    const TableName = await directTable();
    const dynamodb = through(DynamoDBClient, 1);
    proxy.addFault({ service: 'dynamodb', kind: 'TransactionConflict' });

    await dynamodb.send(new GetItemCommand({ TableName, Key: customerKey('1') }));
    await expect(
      dynamodb.send(new PutItemCommand({ TableName, Item: customerKey('1') })),
    ).rejects.toMatchObject({ name: 'TransactionConflictException' });

    expect(summary(proxy.calls()).map(({ operation, fault }) => [operation, fault])).toEqual([
      ['GetItem', undefined],
      ['PutItem', 'TransactionConflict'],
    ]);
  });
});

/**
 * What a reset looks like to the SDK: node's `socket hang up` (ECONNRESET) or EPIPE. Under
 * jest the SDK rewraps it (the error comes from another realm), so only the message is left.
 */
const NETWORK_ERROR = /socket hang up|ECONNRESET|EPIPE/;

describe('connection resets and delays', () => {
  it('resets before forwarding: the client gets a network error and nothing is written', async () => {
    const TableName = await directTable();
    faultOn('dynamodb PutItem', 'ResetBefore');

    await expect(
      through(DynamoDBClient, 1).send(new PutItemCommand({ TableName, Item: customerKey('1') })),
    ).rejects.toThrow(NETWORK_ERROR);

    expect(await storedItem(TableName, '1')).toBeUndefined();
    expect(proxy.calls().at(-1)).toMatchObject({ status: 0, fault: 'ResetBefore' });
  });

  it('resets after the emulator answered: the client gets a network error, and the write is applied', async () => {
    const TableName = await directTable();
    faultOn('dynamodb PutItem', 'ResetAfter');

    await expect(
      through(DynamoDBClient, 1).send(
        new PutItemCommand({ TableName, Item: { ...customerKey('1'), name: { S: 'Ada' } } }),
      ),
    ).rejects.toThrow(NETWORK_ERROR);

    expect(await storedItem(TableName, '1')).toMatchObject({ name: { S: 'Ada' } });
    expect(proxy.calls().at(-1)).toMatchObject({ status: 200, fault: 'ResetAfter' });
  });

  it('after a lost answer, the SDK retry of a conditional put meets its own write', async () => {
    const TableName = await directTable();
    faultOn('dynamodb PutItem', 'ResetAfter', 1);

    await expect(
      through(DynamoDBClient).send(
        new PutItemCommand({
          TableName,
          Item: customerKey('1'),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    ).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });

    expect(summary(proxy.calls()).map(({ status, fault }) => [status, fault])).toEqual([
      [200, 'ResetAfter'],
      [400, undefined],
    ]);
  });

  it('after a lost answer, the SDK retry of a transaction succeeds: its ClientRequestToken makes it idempotent', async () => {
    const TableName = await directTable();
    faultOn('dynamodb TransactWriteItems', 'ResetAfter', 1);

    await through(DynamoDBClient).send(
      new TransactWriteItemsCommand({
        TransactItems: [
          {
            Put: {
              TableName,
              Item: customerKey('1'),
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
        ],
      }),
    );

    expect(await storedItem(TableName, '1')).toBeDefined();
    expect(summary(proxy.calls()).map(({ status, fault }) => [status, fault])).toEqual([
      [200, 'ResetAfter'],
      [200, undefined],
    ]);
  });

  it('delays a call by delayMs before forwarding it', async () => {
    const sns = through(SNSClient, 1);
    proxy.addFault({ service: 'sns', kind: 'Delay', delayMs: 400 });

    const before = Date.now();
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: 'delayed' }));

    expect(TopicArn).toEqual(expect.any(String));
    expect(Date.now() - before).toBeGreaterThanOrEqual(390);
    expect(proxy.calls().at(-1)).toMatchObject({ status: 200, fault: 'Delay' });
  });
});

describe('faults at a rate', () => {
  /** Which of `count` CreateTopic calls a proxy seeded with `seed` failed, at rate 0.5. */
  const faultedCalls = async (seed: number, count = 16): Promise<number[]> => {
    const seeded = await startAwsProxy({ caller: 'welcome', target: moto.endpoint, seed });
    const sns = new SNSClient(clientConfig(seeded.url, 1));
    try {
      seeded.addFault({ service: 'sns', kind: 'InternalError', rate: 0.5 });
      for (let index = 0; index < count; index += 1) {
        await sns.send(new CreateTopicCommand({ Name: `rate-${index}` })).catch(() => undefined);
      }
      return seeded.calls().flatMap((call, index) => (call.fault ? [index] : []));
    } finally {
      sns.destroy();
      await seeded.close();
    }
  };

  it('fails the same calls in every run with the same seed, and others with another', async () => {
    const first = await faultedCalls(42);
    const replay = await faultedCalls(42);
    const other = await faultedCalls(7);

    expect(replay).toEqual(first);
    expect(first.length).toBeGreaterThan(0);
    expect(first.length).toBeLessThan(16);
    expect(other).not.toEqual(first);
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
