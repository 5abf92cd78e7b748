import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { callApi, deliveries, stopLocalCloud } from 'cdk-local-cloud';
import { copyApp, editFile } from '../../local/app-copy';
import { launchCustomerPipeline } from '../../local/launch';
import { sinkCalls } from '../../local/notification-sink';
import { E2E_CONTEXT, E2E_TIME_SCALE } from './global-setup';
import {
  connect,
  eventually,
  type LocalCloud,
  newCustomerInput,
  resourceNamed,
  welcomeCallsFor,
} from './local-cloud';

// `npm start -- --watch` on a copy of the project: a saved handler serves its next request
// without a restart, a message queued meanwhile is still delivered, and code that does not
// build leaves the old code serving.

jest.setTimeout(60_000);

let app: string;
let dir: string;
let child: ChildProcess | undefined;
let logFile: string;
let cloud: LocalCloud;

const output = () => fs.readFileSync(logFile, 'utf8');
const reloadsOf = (name: string) =>
  output()
    .split('\n')
    .filter((line) => line.startsWith('reloaded ') && line.includes(name)).length;

const edit = (file: string, before: string, after: string) => editFile(app, file, before, after);

/** Saves `file` and waits for the reload line it causes. */
const saveAndReload = async (name: string, file: string, before: string, after: string) => {
  const reloads = reloadsOf(name);
  edit(file, before, after);
  await eventually(
    `${name} to reload`,
    async () => reloadsOf(name),
    (n) => n > reloads,
    30_000,
  );
};

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'customer-pipeline-watch-'));
  app = copyApp(path.join(dir, 'app'));
  const launched = await launchCustomerPipeline({
    appDir: app,
    dir,
    timeScale: E2E_TIME_SCALE,
    // The suite's assembly: this copy's sources are the same until a test edits them.
    assembly: path.dirname(connect().state.templateFile),
    // Re-synthesized as the suite's cloud was, or every change would look like a switch of stage.
    context: E2E_CONTEXT,
    args: ['--watch'],
    // Its re-synthesis checks behaviour; `cdk synth` in CI (.ci/run) checks the rules.
    env: { CDK_VALIDATION: 'false' },
    readyTimeoutMs: 120_000,
  });
  child = launched.child;
  logFile = launched.logFile;
  cloud = connect(launched.stateFile);
  // Ready does not wait for watch mode's first builds: this line says they are done.
  await eventually(
    'watch mode',
    async () => output(),
    (text) => /^watching /m.test(text),
    60_000,
  );
}, 180_000);

afterAll(async () => {
  if (child) await stopLocalCloud(child);
  if (dir && !process.env.KEEP_LOCAL_CLOUD_LOGS) fs.rmSync(dir, { recursive: true, force: true });
});

test('watches every function of the app', () => {
  expect(output()).toMatch(/^watching .*lambda: 7 functions rebuilt on save/m);
});

test('a saved handler serves the next request, without a restart', async () => {
  const created = await callApi(cloud, 'POST', '/customers', newCustomerInput());
  expect(created.status).toBe(201);
  const { id } = created.body as { id: string };
  expect((await callApi(cloud, 'GET', `/customers/${id}`)).headers.get('x-watched')).toBeNull();

  await saveAndReload(
    'api',
    'lambda/api/handler.ts',
    '    return await route(event);',
    "    const response = await route(event);\n    return { ...response, headers: { ...response.headers, 'x-watched': 'saved' } };",
  );

  const read = await callApi(cloud, 'GET', `/customers/${id}`);
  expect(read.status).toBe(200);
  expect(read.headers.get('x-watched')).toBe('saved');
  // The table is the one it was: the customer created before the reload is still there.
  expect((read.body as { id: string }).id).toBe(id);
  expect(output()).toMatch(/^reloaded api in [\d.]+ s \(rebuild [\d.]+ s, swap [\d.]+ s\)$/m);
});

test('a message queued before a reload is delivered after it', async () => {
  // The welcome consumer fails every message for now: this customer's welcome waits in its queue.
  await saveAndReload(
    'welcome',
    'lambda/welcome/handler.ts',
    'export const handler = customerEventHandler(welcome, { logger, metrics });',
    "export const handler = async () => {\n  throw new Error('paused by the watch test');\n};",
  );
  const created = await callApi(cloud, 'POST', '/customers', newCustomerInput());
  const { id } = created.body as { id: string };
  const welcomeQueue = resourceNamed(cloud, 'welcome', 'queue').logicalId;
  await eventually(
    'a failed welcome attempt',
    () => deliveries(cloud),
    (all) => all.some((d) => d.queue === welcomeQueue && d.outcome === 'failed'),
    30_000,
  );
  // Its welcome consumer calls the suite's notification sink (the assembly's endpoint).
  expect(welcomeCallsFor(await sinkCalls(connect()), id)).toEqual([]);

  await saveAndReload(
    'welcome',
    'lambda/welcome/handler.ts',
    "export const handler = async () => {\n  throw new Error('paused by the watch test');\n};",
    'export const handler = customerEventHandler(welcome, { logger, metrics });',
  );

  const calls = await eventually(
    'the queued welcome',
    async () => welcomeCallsFor(await sinkCalls(connect()), id),
    (found) => found.length > 0,
    30_000,
  );
  expect(calls).toHaveLength(1);
});

test('a save that does not build leaves the old code serving, and says why once', async () => {
  const before = output();
  edit('lambda/api/handler.ts', "'x-watched': 'saved'", "'x-watched': 'broken' +");
  await eventually(
    'the build error',
    async () => output().slice(before.length),
    (added) => added.includes('does not build'),
    30_000,
  );
  const added = output().slice(before.length);
  expect(added).toMatch(/^api: the saved code does not build; the last good code keeps serving:$/m);
  expect(added).toMatch(/lambda\/api\/handler\.ts:\d+:\d+: ERROR: /);

  const created = await callApi(cloud, 'POST', '/customers', newCustomerInput());
  expect(created.status).toBe(201);
  expect(created.headers.get('x-watched')).toBe('saved');
});

test('a change to the stack’s code is synthesized: a function’s environment and a mapping’s window apply in place, a queue’s change asks for a restart', async () => {
  // The API answers with an environment variable the stack does not set yet.
  edit(
    'lambda/api/handler.ts',
    "'x-watched': 'broken' +",
    "'x-watched': process.env.WATCH_LABEL ?? 'unset'",
  );
  await eventually(
    'the repaired handler',
    async () =>
      (await callApi(cloud, 'POST', '/customers', newCustomerInput())).headers.get('x-watched'),
    (header) => header === 'unset',
    30_000,
  );
  const before = output();

  edit(
    'lib/constructs/customer-api.ts',
    'environment: { TABLE_NAME: props.table.tableName },',
    "environment: { TABLE_NAME: props.table.tableName, WATCH_LABEL: 'from lib' },",
  );
  // The consumers' batching window: their mappings' (in place) and their queues' visibility timeout (not).
  edit(
    'lib/constructs/event-consumer.ts',
    'props.maxBatchingWindow ?? Duration.seconds(1)',
    'props.maxBatchingWindow ?? Duration.seconds(2)',
  );

  const added = await eventually(
    'the re-synthesis',
    async () => output().slice(before.length),
    (text) => /^restart to apply: /m.test(text),
    90_000,
  );
  expect(added).toMatch(
    /^lib\/constructs\/\S+\.ts(, lib\/constructs\/\S+\.ts)? changed: synthesizing …$/m,
  );
  const applied = /^synthesized and applied in [\d.]+ s: (.*)$/m.exec(added)?.[1] ?? '';
  // (The copy's code and sink differ from the suite's assembly too: those apply as well.)
  expect(applied).toMatch(/(^|, )api \([^)]*\bEnvironment\b/);
  expect(applied).toMatch(/WelcomeConsumer\w* \([^)]*\bMaximumBatchingWindowInSeconds\b/);
  const restart =
    /^restart to apply: (.*) \(the running cloud keeps the old definition\)$/m.exec(added)?.[1] ??
    '';
  expect(restart).toMatch(
    /WelcomeConsumerQueue\w+ \(AWS::SQS::Queue, changed: VisibilityTimeout\)/,
  );

  const answered = await callApi(cloud, 'POST', '/customers', newCustomerInput());
  expect(answered.status).toBe(201);
  expect(answered.headers.get('x-watched')).toBe('from lib');
}, 120_000);
