import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { control, functionCalls, type RunningLocalCloud, startLocalCloud } from '../src';
import type { AwsCall } from '../src/aws-proxy';

// The local cloud wires the faults through: the rules reach a function's proxy, and each
// injected fault is printed under the function's name.

jest.setTimeout(120_000);

const SENDER = `const { PublishCommand, SNSClient } = require('@aws-sdk/client-sns');
const sns = new SNSClient({});
exports.handler = async () => {
  await sns.send(new PublishCommand({ TopicArn: process.env.TOPIC_ARN, Message: 'x' }));
  return 'sent';
};`;

let dir: string;
let cloud: RunningLocalCloud;
const lines: string[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faults-cloud-'));
  const app = new App({ outdir: path.join(dir, 'cdk.out') });
  const stack = new Stack(app, 'FaultsStack', {
    env: { account: '123456789012', region: 'us-east-1' },
  });
  const topic = new sns.Topic(stack, 'Outbox');
  const sender = new lambda.Function(stack, 'Sender', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline(SENDER),
    environment: { TOPIC_ARN: topic.topicArn },
  });
  topic.grantPublish(sender);
  app.synth();
  cloud = await startLocalCloud({
    appDir: path.resolve(__dirname, '..'),
    assembly: path.join(dir, 'cdk.out'),
    timeScale: 0.05,
    apiPort: 0,
    concurrency: 1,
    stateFile: path.join(dir, 'state.json'),
    workDir: path.join(dir, 'work'),
    faultSeed: 99,
    nameOf: (logicalId) => (logicalId.startsWith('Sender') ? 'sender' : undefined),
    print: (line) => lines.push(line),
  });
});

afterAll(async () => {
  await cloud?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a rule posted to the control API hits the function’s call, which is recorded and printed', async () => {
  const sender = Object.keys(cloud.state.resources).find(
    (id) => id.startsWith('Sender') && cloud.state.resources[id]?.type === 'AWS::Lambda::Function',
  );
  const answer = await control(cloud, 'POST', '/faults', {
    caller: sender,
    service: 'sns',
    kind: 'Throttling',
    remaining: 1,
  });
  expect(answer).toMatchObject({ seed: 99 });

  // The SDK retries the throttled call: the invocation succeeds.
  expect(await control(cloud, 'POST', `/invoke/${sender}`, {})).toMatchObject({ ok: true });

  const calls = (await functionCalls(cloud)).map(({ operation, status, fault }: AwsCall) => ({
    operation,
    status,
    fault,
  }));
  expect(calls).toEqual([
    { operation: 'Publish', status: 400, fault: 'Throttling' },
    { operation: 'Publish', status: 200 },
  ]);
  expect(lines).toContain(`fault rule → ${sender}: sns Throttling, the next 1 call(s)`);
  expect(lines).toContain('  fault → sender: sns Publish Throttling: ThrottlingException 400');
});
