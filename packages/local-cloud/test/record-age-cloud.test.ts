import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { emulatorClientConfig, type RunningLocalCloud, startLocalCloud } from '../src';

// `recordAgeScale` shrinks a stream mapping's maximum record age (and nothing else shrinks
// it): a publisher that always fails gives its record up as RecordAgeExceeded once the
// shrunk age has passed, not after Lambda's 60 s.

jest.setTimeout(120_000);

const FAILING = `exports.handler = async () => { throw new Error('always fails'); };`;

let dir: string;
let cloud: RunningLocalCloud;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'record-age-cloud-'));
  const app = new App({ outdir: path.join(dir, 'cdk.out') });
  const stack = new Stack(app, 'RecordAgeStack', {
    env: { account: '123456789012', region: 'us-east-1' },
  });
  const table = new dynamodb.Table(stack, 'Table', {
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
    stream: dynamodb.StreamViewType.NEW_IMAGE,
  });
  const failures = new sqs.Queue(stack, 'Failures');
  const publisher = new lambda.Function(stack, 'Publisher', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline(FAILING),
  });
  publisher.addEventSource(
    new sources.DynamoEventSource(table, {
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: 1,
      retryAttempts: -1,
      maxRecordAge: Duration.seconds(60),
      onFailure: new sources.SqsDlq(failures),
    }),
  );
  app.synth();
  cloud = await startLocalCloud({
    appDir: path.resolve(__dirname, '..'),
    assembly: path.join(dir, 'cdk.out'),
    timeScale: 0.05,
    recordAgeScale: 0.05,
    apiPort: 0,
    concurrency: 1,
    stateFile: path.join(dir, 'state.json'),
    workDir: path.join(dir, 'work'),
    print: () => {},
  });
});

afterAll(async () => {
  await cloud?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a record is given up on after the shrunk record age, not the template’s', async () => {
  const config = emulatorClientConfig(cloud.state);
  const resourceOf = (prefix: string) => {
    const found = Object.values(cloud.state.resources).find((r) => r.logicalId.startsWith(prefix));
    if (found === undefined) throw new Error(`no ${prefix}`);
    return found.ref;
  };
  await new DynamoDBClient(config).send(
    new PutItemCommand({ TableName: resourceOf('Table'), Item: { pk: { S: 'one' } } }),
  );
  const sqsClient = new SQSClient(config);
  const deadline = Date.now() + 50_000;
  let body: string | undefined;
  while (body === undefined && Date.now() < deadline) {
    const { Messages } = await sqsClient.send(
      new ReceiveMessageCommand({ QueueUrl: resourceOf('Failures'), WaitTimeSeconds: 1 }),
    );
    body = Messages?.[0]?.Body;
  }
  if (body === undefined) throw new Error('nothing reached the on-failure queue');
  const record = JSON.parse(body);
  expect(record.requestContext.condition).toBe('RecordAgeExceeded');
  // Given up 3 s (60 s × 0.05) after the record was written, give or take the poll and
  // the creation time's whole seconds: well before the template's 60 s.
  const age =
    (Date.parse(record.timestamp) -
      Date.parse(record.DDBStreamBatchInfo.approximateArrivalOfFirstRecord)) /
    1000;
  expect(age).toBeGreaterThanOrEqual(2);
  expect(age).toBeLessThan(30);
});
