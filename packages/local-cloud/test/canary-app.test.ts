import * as fs from 'node:fs';
import * as path from 'node:path';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { callApi, control, type RunningLocalCloud, startLocalCloud, waitFor } from '../src';
import { emulatorClientConfig } from '../src/state';
import type { CodeWatch } from '../src/watch';

// An app deployed as canaries are: each function's `currentVersion`, a `live` alias on it, the
// queue's mapping and the API's integration on the alias, CodeDeploy deployment groups and
// alarms on the version. Synthesized by the local cloud itself (`cdk synth`), so that its watch
// mode re-synthesizes it when the stack's code changes, as the customer pipeline's prod does.

jest.setTimeout(120_000);

const PACKAGE_DIR = path.resolve(__dirname, '..');
const REPO_ROOT = path.resolve(PACKAGE_DIR, '..', '..');

/** What each handler reports of the invocation: the context, and the environment's version. */
const REPORT = `const report = (context) => ({
  functionVersion: context.functionVersion,
  invokedFunctionArn: context.invokedFunctionArn,
  environmentVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
  release: RELEASE,
});
// A CloudWatch EMF line, as Powertools' metrics write one to stdout.
const emf = (name) => console.log(JSON.stringify({
  _aws: { Timestamp: Date.now(), CloudWatchMetrics: [{ Namespace: 'Canary', Dimensions: [['service']], Metrics: [{ Name: name, Unit: 'Count' }] }] },
  service: 'canary', [name]: 1, functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
}));
`;

const intake = (
  release: string,
) => `import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
const RELEASE = ${JSON.stringify(release)};
${REPORT}
const sqs = new SQSClient({});
export const handler = async (event, context) => {
  emf('OrdersAccepted');
  if (event.body === undefined) return report(context);
  const order = JSON.parse(event.body);
  await sqs.send(new SendMessageCommand({ QueueUrl: process.env.QUEUE_URL, MessageBody: JSON.stringify(order) }));
  return { statusCode: 202, body: JSON.stringify({ accepted: order.id, ...report(context) }) };
};
`;

const WORKER = `import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
const RELEASE = 'one';
${REPORT}
const db = new DynamoDBClient({});
export const handler = async (event, context) => {
  emf('OrdersStored');
  for (const record of event.Records) {
    const order = JSON.parse(record.body);
    await db.send(new PutItemCommand({ TableName: process.env.TABLE_NAME, Item: {
      id: { S: order.id }, seen: { S: JSON.stringify(report(context)) } } }));
  }
};
`;

/** The app, as plain CommonJS `cdk synth` runs; `infra/release.txt` is what a stack change edits. */
const APP = `const fs = require('node:fs');
const path = require('node:path');
const { App, Stack, Duration } = require('aws-cdk-lib');
const apigwv2 = require('aws-cdk-lib/aws-apigatewayv2');
const { HttpLambdaIntegration } = require('aws-cdk-lib/aws-apigatewayv2-integrations');
const cloudwatch = require('aws-cdk-lib/aws-cloudwatch');
const codedeploy = require('aws-cdk-lib/aws-codedeploy');
const dynamodb = require('aws-cdk-lib/aws-dynamodb');
const lambda = require('aws-cdk-lib/aws-lambda');
const sqs = require('aws-cdk-lib/aws-sqs');

const app = new App();
const stack = new Stack(app, 'CanaryStack', { env: { account: '123456789012', region: 'us-east-1' } });
const release = fs.readFileSync(path.join(__dirname, 'infra', 'release.txt'), 'utf8').trim();
fs.mkdirSync(path.join(__dirname, 'build', release), { recursive: true });
fs.copyFileSync(path.join(__dirname, 'src', 'intake-' + release + '.mjs'), path.join(__dirname, 'build', release, 'index.mjs'));

const queue = new sqs.Queue(stack, 'Orders');
const table = new dynamodb.Table(stack, 'OrdersTable', { partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING } });
const application = new codedeploy.LambdaApplication(stack, 'Deploys');
const canary = (id, fn) => {
  const version = fn.currentVersion;
  const alias = new lambda.Alias(stack, id + 'Live', { aliasName: 'live', version });
  const errors = new cloudwatch.Alarm(stack, id + 'Errors', {
    metric: new cloudwatch.MathExpression({
      expression: 'errors',
      usingMetrics: { errors: new cloudwatch.Metric({ namespace: 'AWS/Lambda', metricName: 'Errors',
        dimensionsMap: { FunctionName: fn.functionName, Resource: fn.functionName + ':live', ExecutedVersion: version.version } }) },
      period: Duration.minutes(1),
    }),
    threshold: 1, evaluationPeriods: 1,
  });
  new codedeploy.LambdaDeploymentGroup(stack, id + 'Deployment', {
    application, alias, alarms: [errors],
    deploymentConfig: codedeploy.LambdaDeploymentConfig.CANARY_10PERCENT_5MINUTES,
  });
  return alias;
};
const intake = new lambda.Function(stack, 'Intake', {
  runtime: lambda.Runtime.NODEJS_20_X, handler: 'index.handler',
  code: lambda.Code.fromAsset(path.join(__dirname, 'build', release)),
  environment: { QUEUE_URL: queue.queueUrl },
});
queue.grantSendMessages(intake);
const worker = new lambda.Function(stack, 'Worker', {
  runtime: lambda.Runtime.NODEJS_20_X, handler: 'index.handler',
  code: lambda.Code.fromAsset(path.join(__dirname, 'src', 'worker')),
  environment: { TABLE_NAME: table.tableName },
});
table.grantWriteData(worker);
const intakeLive = canary('Intake', intake);
const workerLive = canary('Worker', worker);
new lambda.EventSourceMapping(stack, 'OrdersMapping', { target: workerLive, eventSourceArn: queue.queueArn, batchSize: 5 });
queue.grantConsumeMessages(workerLive);
const api = new apigwv2.HttpApi(stack, 'Api');
api.addRoutes({ path: '/orders', methods: [apigwv2.HttpMethod.POST], integration: new HttpLambdaIntegration('IntakeIntegration', intakeLive) });
app.synth();
`;

let dir: string;
let cloud: RunningLocalCloud;
const lines: string[] = [];

/** The stack's code, for watch mode: nothing is rebuilt, a change under infra/ re-synthesizes. */
const watch = (): CodeWatch => ({
  codeRoots: [path.join(dir, 'src')],
  infraRoots: [path.join(dir, 'infra')],
  bundlerFor: () => undefined,
});

const idOf = (prefix: string, type: string): string => {
  const found = Object.values(cloud.state.resources).find(
    (r) => r.logicalId.startsWith(prefix) && r.type === type,
  );
  if (found === undefined) throw new Error(`no ${type} ${prefix}`);
  return found.logicalId;
};

const invoke = async (target: string) =>
  (await control(cloud, 'POST', `/invoke/${encodeURIComponent(target)}`, {})) as {
    ok: boolean;
    payload: Record<string, string>;
  };

beforeAll(async () => {
  fs.mkdirSync(path.join(PACKAGE_DIR, '.test-apps'), { recursive: true });
  dir = fs.mkdtempSync(path.join(PACKAGE_DIR, '.test-apps', 'canary-'));
  for (const sub of ['src/worker', 'infra']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  fs.writeFileSync(path.join(dir, 'src', 'intake-one.mjs'), intake('one'));
  fs.writeFileSync(path.join(dir, 'src', 'intake-two.mjs'), intake('two'));
  fs.writeFileSync(path.join(dir, 'src', 'worker', 'index.mjs'), WORKER);
  fs.writeFileSync(path.join(dir, 'infra', 'release.txt'), 'one\n');
  fs.writeFileSync(path.join(dir, 'app.js'), APP);
  fs.writeFileSync(path.join(dir, 'cdk.json'), JSON.stringify({ app: 'node app.js' }));
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  cloud = await startLocalCloud({
    appDir: dir,
    timeScale: 0.05,
    apiPort: 0,
    concurrency: 2,
    stateFile: path.join(dir, 'state.json'),
    workDir: path.join(dir, 'work'),
    watch: watch(),
    print: (line) => lines.push(line),
  });
});

afterAll(async () => {
  await cloud?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('versions, aliases and CodeDeploy on the local cloud', () => {
  test('a version is its function’s ARN with its number, an alias its ARN with its name', () => {
    const intakeFn = cloud.state.resources[idOf('Intake', 'AWS::Lambda::Function')];
    const version = cloud.state.resources[idOf('IntakeCurrentVersion', 'AWS::Lambda::Version')];
    const alias = cloud.state.resources[idOf('IntakeLive', 'AWS::Lambda::Alias')];
    const arn = intakeFn?.attributes.Arn;
    expect(arn).toMatch(/^arn:aws:lambda:us-east-1:123456789012:function:/);
    expect(version).toMatchObject({
      ref: `${arn}:1`,
      attributes: { Version: '1', FunctionArn: `${arn}:1` },
    });
    expect(alias).toMatchObject({ ref: `${arn}:live`, attributes: { AliasArn: `${arn}:live` } });
  });

  test('lists CodeDeploy as not emulated, and nothing as unknown or not run', () => {
    const notEmulated = lines.find((line) => line.startsWith('not emulated (no effect'));
    expect(notEmulated).toContain('AWS::CodeDeploy::Application');
    expect(notEmulated).toContain('AWS::CodeDeploy::DeploymentGroup ×2');
    expect(notEmulated).toContain('AWS::CloudWatch::Alarm ×2');
    expect(lines.filter((line) => /UNKNOWN|NOT EMULATED|NOT RUN/.test(line))).toEqual([]);
    expect(lines).toContainEqual('functions: 2, event source mappings: 1');
  });

  test('the API’s integration with the alias, and the queue’s mapping on the alias, invoke version 1 as live', async () => {
    const accepted = await callApi(cloud, 'POST', '/orders', { id: 'order-1' });
    const intakeArn =
      cloud.state.resources[idOf('Intake', 'AWS::Lambda::Function')]?.attributes.Arn;
    expect(accepted).toMatchObject({
      status: 202,
      body: {
        accepted: 'order-1',
        functionVersion: '1',
        environmentVersion: '1',
        invokedFunctionArn: `${intakeArn}:live`,
      },
    });

    const workerArn =
      cloud.state.resources[idOf('Worker', 'AWS::Lambda::Function')]?.attributes.Arn;
    const dynamodb = new DynamoDBClient(emulatorClientConfig(cloud.state));
    const table = Object.values(cloud.state.resources).find(
      (r) => r.type === 'AWS::DynamoDB::Table',
    );
    try {
      let seen: string | undefined;
      await waitFor(
        async () => {
          const { Item } = await dynamodb.send(
            new GetItemCommand({ TableName: table?.ref, Key: { id: { S: 'order-1' } } }),
          );
          seen = Item?.seen?.S;
          return seen !== undefined;
        },
        { timeoutMs: 30_000, what: 'the worker to store order-1' },
      );
      expect(JSON.parse(seen ?? '{}')).toEqual({
        functionVersion: '1',
        environmentVersion: '1',
        invokedFunctionArn: `${workerArn}:live`,
        release: 'one',
      });
    } finally {
      dynamodb.destroy();
    }
  });

  test('an invocation names the version it ran as: $LATEST unqualified, the number through a version, the alias’s through the alias', async () => {
    const fn = idOf('Intake', 'AWS::Lambda::Function');
    const arn = cloud.state.resources[fn]?.attributes.Arn;
    expect((await invoke(fn)).payload).toMatchObject({
      functionVersion: '$LATEST',
      environmentVersion: '$LATEST',
      invokedFunctionArn: arn,
    });
    expect((await invoke(`${arn}:1`)).payload).toMatchObject({
      functionVersion: '1',
      environmentVersion: '1',
      invokedFunctionArn: `${arn}:1`,
    });
    expect((await invoke(`${fn}:live`)).payload).toMatchObject({
      functionVersion: '1',
      invokedFunctionArn: `${arn}:live`,
    });
  });

  test('the functions’ EMF metric lines go to their logs as any output does', () => {
    const log = fs.readFileSync(
      path.join(dir, 'work', 'logs', `${idOf('Worker', 'AWS::Lambda::Function')}.log`),
      'utf8',
    );
    const metrics = log
      .split('\n')
      .filter((line) => line.startsWith('{"_aws"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(metrics).toContainEqual(
      expect.objectContaining({ OrdersStored: 1, functionVersion: '1' }),
    );
  });

  test('a stack change that changes a function’s code publishes version 2 and moves the alias to it, in place', async () => {
    const from = lines.length;
    fs.writeFileSync(path.join(dir, 'infra', 'release.txt'), 'two\n');
    const synthesized = () => lines.slice(from).find((line) => /^synthesized /.test(line));
    await waitFor(() => synthesized() !== undefined, {
      timeoutMs: 60_000,
      what: 'the re-synthesis',
    });
    const applied = synthesized();
    expect(applied).toMatch(/^synthesized and applied in [\d.]+ s: /);
    expect(applied).toMatch(/IntakeCurrentVersion\w+ \(published version 2\)/);
    expect(applied).toMatch(/IntakeLive\w* \(FunctionVersion\)/);
    expect(applied).toMatch(/Intake\w* \(Code\)/);
    expect(applied).toMatch(
      /\(\d+ change\(s\) to alarms, dashboards or CodeDeploy: no effect here\)$/,
    );
    expect(lines.slice(from).filter((line) => line.startsWith('restart to apply'))).toEqual([]);

    const accepted = await callApi(cloud, 'POST', '/orders', { id: 'order-2' });
    expect(accepted).toMatchObject({
      status: 202,
      body: { functionVersion: '2', environmentVersion: '2', release: 'two' },
    });
    const arn = cloud.state.resources[idOf('Intake', 'AWS::Lambda::Function')]?.attributes.Arn;
    // The version replaced is retained, and runs the current code, as every version does here.
    expect((await invoke(`${arn}:1`)).payload).toMatchObject({
      functionVersion: '1',
      release: 'two',
    });
    expect((await invoke(`${arn}:2`)).payload).toMatchObject({ functionVersion: '2' });
  });
});
