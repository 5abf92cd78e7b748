import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { App, Stack } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { callApi, control, type RunningLocalCloud, startLocalCloud, waitFor } from '../src';
import { emulatorClientConfig } from '../src/state';

// An app that is not the customer pipeline, written as someone else would write one: a
// plain lambda.Function whose asset does not bundle the AWS SDK (Lambda's runtime provides
// it), a NodejsFunction (esbuild leaves @aws-sdk/* out for Node 18 and later), a queue, a
// table, an HTTP API, and two things the local cloud does not run, which it must name.

jest.setTimeout(180_000);

const PACKAGE_DIR = path.resolve(__dirname, '..');
const REPO_ROOT = path.resolve(PACKAGE_DIR, '..', '..');

/** ESM, importing the SDK that Lambda's Node.js runtime provides. */
const INTAKE = `import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
const sqs = new SQSClient({});
export const handler = async (event) => {
  const order = JSON.parse(event.body);
  await sqs.send(new SendMessageCommand({ QueueUrl: process.env.QUEUE_URL, MessageBody: JSON.stringify(order) }));
  return { statusCode: 202, body: JSON.stringify({ accepted: order.id }) };
};
`;

/** Bundled by NodejsFunction into CommonJS that requires the SDK at run time. */
const WORKER = `import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
const db = new DynamoDBClient({});
export const handler = async (event: { Records: { body: string }[] }) => {
  for (const record of event.Records) {
    const order = JSON.parse(record.body) as { id: string };
    await db.send(new PutItemCommand({ TableName: process.env.TABLE_NAME, Item: { id: { S: order.id } } }));
  }
};
`;

let dir: string;
let outside: string;
let assembly: string;

/** Synthesizes the orders app, as `cdk synth` would, into `dir/cdk.out`. */
const synthOrdersApp = (): string => {
  const source = path.join(dir, 'src');
  fs.mkdirSync(path.join(source, 'intake'), { recursive: true });
  fs.writeFileSync(path.join(source, 'intake', 'index.mjs'), INTAKE);
  fs.writeFileSync(path.join(source, 'worker.ts'), WORKER);
  const outdir = path.join(dir, 'cdk.out');
  const app = new App({ outdir });
  const stack = new Stack(app, 'OrdersStack', {
    env: { account: '123456789012', region: 'us-east-1' },
  });
  const queue = new sqs.Queue(stack, 'Orders');
  const table = new dynamodb.Table(stack, 'OrdersTable', {
    partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
  });
  const intake = new lambda.Function(stack, 'Intake', {
    runtime: lambda.Runtime.NODEJS_20_X,
    handler: 'index.handler',
    code: lambda.Code.fromAsset(path.join(source, 'intake')),
    environment: { QUEUE_URL: queue.queueUrl },
  });
  queue.grantSendMessages(intake);
  const worker = new nodejs.NodejsFunction(stack, 'Worker', {
    entry: path.join(source, 'worker.ts'),
    runtime: lambda.Runtime.NODEJS_20_X,
    projectRoot: REPO_ROOT,
    depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
    environment: { TABLE_NAME: table.tableName },
  });
  worker.addEventSource(new SqsEventSource(queue, { batchSize: 5 }));
  table.grantWriteData(worker);
  const api = new apigwv2.HttpApi(stack, 'Api');
  api.addRoutes({
    path: '/orders',
    methods: [apigwv2.HttpMethod.POST],
    integration: new HttpLambdaIntegration('IntakeIntegration', intake),
  });
  // Not run locally, and so said by name: a Python function and S3 event notifications.
  new lambda.Function(stack, 'Reporter', {
    runtime: lambda.Runtime.PYTHON_3_12,
    handler: 'index.handler',
    code: lambda.Code.fromInline('def handler(event, context):\n    return None\n'),
  });
  new s3.Bucket(stack, 'Uploads').addEventNotification(
    s3.EventType.OBJECT_CREATED,
    new s3n.LambdaDestination(worker),
  );
  // S3 events to two queues: one whose policy CDK wrote, and one whose policy names another
  // bucket (a typo an override can make), which S3 refuses to configure on AWS.
  const inbox = new s3.Bucket(stack, 'Inbox');
  const filed = new sqs.Queue(stack, 'Filed');
  const misfiled = new sqs.Queue(stack, 'Misfiled');
  inbox.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.SqsDestination(filed));
  inbox.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.SqsDestination(misfiled));
  (misfiled.node.findChild('Policy').node.defaultChild as sqs.CfnQueuePolicy).addPropertyOverride(
    'PolicyDocument.Statement.0.Condition.ArnLike.aws:SourceArn',
    'arn:aws:s3:::someone-elses-bucket',
  );
  // A common mistake, said at start-up: an alarm notifying a topic whose key (CDK's default
  // policy) does not let CloudWatch use it; on AWS the alarm fires and nobody hears.
  const alerts = new sns.Topic(stack, 'Alerts', { masterKey: new kms.Key(stack, 'AlertsKey') });
  new cloudwatch.Alarm(stack, 'Backlog', {
    metric: queue.metricApproximateNumberOfMessagesVisible(),
    threshold: 100,
    evaluationPeriods: 1,
  }).addAlarmAction(new cloudwatchActions.SnsAction(alerts));
  app.synth();
  return outdir;
};

const start = async (appDir: string, lines: string[]): Promise<RunningLocalCloud> =>
  startLocalCloud({
    appDir,
    assembly,
    timeScale: 0.05,
    apiPort: 0,
    concurrency: 2,
    stateFile: path.join(dir, `state-${lines.length}-${Date.now()}.json`),
    workDir: path.join(dir, `work-${Date.now()}`),
    print: (line) => lines.push(line),
  });

const logicalIdOf = (cloud: RunningLocalCloud, prefix: string): string => {
  const found = Object.keys(cloud.state.resources).find(
    (id) => id.startsWith(prefix) && cloud.state.resources[id]?.type === 'AWS::Lambda::Function',
  );
  if (found === undefined) throw new Error(`no function ${prefix}`);
  return found;
};

beforeAll(() => {
  // Under the repository: NodejsFunction bundles only entries under its project root.
  fs.mkdirSync(path.join(PACKAGE_DIR, '.test-apps'), { recursive: true });
  dir = fs.mkdtempSync(path.join(PACKAGE_DIR, '.test-apps', 'orders-'));
  // The assembly runs from outside the repository, as a deployed bundle would: nothing up
  // its tree has node_modules, so the SDK it leaves out must come from the app's.
  outside = fs.mkdtempSync(path.join(os.tmpdir(), 'local-cloud-orders-'));
  assembly = path.join(outside, 'cdk.out');
  fs.cpSync(synthOrdersApp(), assembly, { recursive: true });
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

describe('another CDK app on the local cloud', () => {
  let cloud: RunningLocalCloud;
  const lines: string[] = [];

  beforeAll(async () => {
    cloud = await start(PACKAGE_DIR, lines);
  });
  afterAll(async () => {
    await cloud?.stop();
  });

  test('runs its only stack without being told its name', () => {
    expect(cloud.state.stackName).toBe('OrdersStack');
  });

  test('carries an order from its HTTP API through the queue into the table', async () => {
    const accepted = await callApi(cloud, 'POST', '/orders', { id: 'order-1' });
    expect(accepted).toMatchObject({ status: 202, body: { accepted: 'order-1' } });

    const dynamodb = new DynamoDBClient(emulatorClientConfig(cloud.state));
    const table = Object.values(cloud.state.resources).find(
      (r) => r.type === 'AWS::DynamoDB::Table',
    );
    try {
      await waitFor(
        async () => {
          const { Item } = await dynamodb.send(
            new GetItemCommand({ TableName: table?.ref, Key: { id: { S: 'order-1' } } }),
          );
          return Item !== undefined;
        },
        { timeoutMs: 60_000, what: 'the worker to store order-1' },
      );
    } finally {
      dynamodb.destroy();
    }
  });

  test('names what it does not run: the Python function and the S3 event notifications', () => {
    expect(lines).toContainEqual(
      expect.stringMatching(/^function Reporter\w* is NOT EMULATED: runtime python3\.12/),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^NOT EMULATED: Custom::S3BucketNotifications: S3 event notifications to Lambda functions are not sent/,
      ),
    );
  });

  test("does not run CDK's bucket notifications handler, whose work it does itself, and says so", () => {
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^function BucketNotificationsHandler\w* not run: it only provides Custom::S3BucketNotifications, which this cloud creates in the emulator itself$/,
      ),
    );
    expect(lines.filter((line) => /BucketNotificationsHandler.*NOT EMULATED/.test(line))).toEqual(
      [],
    );
  });

  test('sends S3’s events to a queue whose policy lets the bucket, and refuses, naming it, a queue whose policy does not', async () => {
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^bucket notification InboxNotifications\w* → arn:aws:sqs:\S+Misfiled\w* NOT DELIVERED: no statement of the queue's policy .* lets s3\.amazonaws\.com send from arn:aws:s3:::\S*inbox\S* \(on AWS, S3 refuses the configuration and the deploy fails\)$/,
      ),
    );
    const config = emulatorClientConfig(cloud.state);
    const s3Client = new S3Client({ ...config, forcePathStyle: true });
    const sqsClient = new SQSClient(config);
    const refOf = (prefix: string, type: string) =>
      Object.values(cloud.state.resources).find(
        (r) => r.logicalId.startsWith(prefix) && r.type === type,
      )?.ref ?? '';
    try {
      await s3Client.send(
        new PutObjectCommand({
          Bucket: refOf('Inbox', 'AWS::S3::Bucket'),
          Key: 'a.txt',
          Body: 'a',
        }),
      );
      const recordsIn = async (prefix: string) => {
        const got = await sqsClient.send(
          new ReceiveMessageCommand({
            QueueUrl: refOf(prefix, 'AWS::SQS::Queue'),
            MaxNumberOfMessages: 10,
          }),
        );
        return (got.Messages ?? []).flatMap(
          (m) => (JSON.parse(m.Body ?? '{}') as { Records?: unknown[] }).Records ?? [],
        );
      };
      expect(await recordsIn('Filed')).toHaveLength(1);
      expect(await recordsIn('Misfiled')).toEqual([]);
    } finally {
      s3Client.destroy();
      sqsClient.destroy();
    }
  });

  test('names the alarm whose topic’s key would keep CloudWatch from notifying it', () => {
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^alarms NOT NOTIFIED on AWS: 1 alarm\(s\) \(Backlog\w*\) notify arn:aws:sns:.*Alerts\w*, but the key's policy does not let cloudwatch\.amazonaws\.com kms:GenerateDataKey, kms:Decrypt on arn:aws:kms:.* for each alarm$/,
      ),
    );
  });
});

describe('an app whose node_modules lack the SDK its functions leave to the runtime', () => {
  let cloud: RunningLocalCloud;
  let bare: string;

  beforeAll(async () => {
    // Outside the repository, so that nothing up the tree has node_modules to fall back on.
    bare = fs.mkdtempSync(path.join(os.tmpdir(), 'local-cloud-bare-app-'));
    fs.mkdirSync(path.join(bare, 'node_modules'));
    fs.writeFileSync(path.join(bare, 'package.json'), '{"name":"bare-app","private":true}');
    cloud = await start(bare, []);
  });
  afterAll(async () => {
    await cloud?.stop();
    fs.rmSync(bare, { recursive: true, force: true });
  });

  test('fails the function’s init naming the missing module and how to install it', async () => {
    const outcome = await control(cloud, 'POST', `/invoke/${logicalIdOf(cloud, 'Intake')}`, {
      body: JSON.stringify({ id: 'order-2' }),
    });
    expect(outcome).toMatchObject({ ok: false });
    const { errorMessage } = (outcome as { error: { errorMessage: string } }).error;
    expect(errorMessage).toContain('imports @aws-sdk/client-sqs');
    expect(errorMessage).toContain('npm install --save-dev @aws-sdk/client-sqs');
  });
});
