import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { waitFor } from '../src/net';
import {
  type FunctionDefinition,
  FunctionHost,
  importsRuntimeModules,
  runtimeExecArgv,
} from '../src/runtime/function-host';

jest.setTimeout(30_000);

/**
 * One bundle with a behaviour per `event.action`. Module state (`invocations`)
 * tells a warm worker from a fresh one.
 */
const HANDLER = `
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

let invocations = 0;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const until = async (file, ms) => {
  const end = Date.now() + ms;
  while (!existsSync(file)) {
    if (Date.now() > end) return false;
    await sleep(10);
  }
  return true;
};

export const handler = async (event, context) => {
  invocations += 1;
  switch (event.action) {
    case 'throw':
      throw new RangeError('bad input');
    case 'hang':
      if (event.marker) writeFileSync(event.marker, '');
      return new Promise(() => {});
    case 'exit':
      process.exit(3);
      return null;
    case 'log':
      console.log('hello from ' + event.marker);
      return null;
    case 'meet': {
      writeFileSync(join(event.dir, event.me + '-started'), '');
      const met = await until(join(event.dir, event.other + '-started'), 10000);
      // Linger, so a third invocation running alongside would start (and be seen) now.
      await until(join(event.dir, 'c-started'), 1000);
      writeFileSync(join(event.dir, event.me + '-done'), '');
      return { met };
    }
    case 'third': {
      const afterDone = existsSync(join(event.dir, 'a-done')) || existsSync(join(event.dir, 'b-done'));
      writeFileSync(join(event.dir, 'c-started'), '');
      return { afterDone };
    }
    default:
      return {
        echo: event,
        env: process.env.MY_VAR ?? null,
        parentOnly: process.env.PARENT_ONLY ?? null,
        remaining: context.getRemainingTimeInMillis(),
        functionName: context.functionName,
        functionVersion: context.functionVersion,
        invokedFunctionArn: context.invokedFunctionArn,
        versionEnv: process.env.AWS_LAMBDA_FUNCTION_VERSION,
        invocations,
      };
  }
};
`;

let codeDirectory: string;
const hosts: FunctionHost[] = [];

const definition = (overrides: Partial<FunctionDefinition> = {}): FunctionDefinition => ({
  logicalId: 'EchoFunction',
  functionName: 'echo-function',
  functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:echo-function',
  codeDirectory,
  appDir: codeDirectory,
  handler: 'index.handler',
  environment: {},
  timeoutSeconds: 3,
  memorySize: 128,
  ...overrides,
});

const host = (
  overrides: Partial<FunctionDefinition> = {},
  { concurrency = 1, log = new PassThrough() }: { concurrency?: number; log?: PassThrough } = {},
): FunctionHost => {
  const created = new FunctionHost(definition(overrides), { concurrency, log });
  hosts.push(created);
  return created;
};

/** A fresh directory for marker files, so no test sees another's. */
const markerDirectory = () => mkdtemp(path.join(codeDirectory, 'markers-'));

beforeAll(async () => {
  codeDirectory = await mkdtemp(path.join(tmpdir(), 'function-host-'));
  await writeFile(path.join(codeDirectory, 'index.mjs'), HANDLER);
  await writeFile(
    path.join(codeDirectory, 'broken.mjs'),
    "throw new Error('cannot load config');\nexport const handler = async () => null;\n",
  );
  await writeFile(path.join(codeDirectory, 'noexport.mjs'), 'export const other = 1;\n');
  process.env.PARENT_ONLY = 'parent secret';
});

afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.close()));
});

afterAll(async () => {
  delete process.env.PARENT_ONLY;
  await rm(codeDirectory, { recursive: true, force: true });
});

describe('FunctionHost', () => {
  it('returns the handler payload, with the Lambda context', async () => {
    const outcome = await host().invoke({ hello: 'world' });

    expect(outcome).toEqual({
      ok: true,
      payload: expect.objectContaining({
        echo: { hello: 'world' },
        functionName: 'echo-function',
        invocations: 1,
      }),
    });
    const payload = (outcome.ok ? outcome.payload : {}) as { remaining: number };
    expect(payload.remaining).toBeGreaterThan(0);
    expect(payload.remaining).toBeLessThanOrEqual(3000);
  });

  it('runs a version (an alias’s) in workers of its own, with its number and the ARN invoked by', async () => {
    const echo = host();
    const arn = definition().functionArn;
    const live = { version: '2', invokedFunctionArn: `${arn}:live` };
    const payloadOf = async (qualifier?: typeof live) => {
      const outcome = await echo.invoke({}, qualifier);
      return outcome.ok ? outcome.payload : outcome;
    };

    expect(await payloadOf()).toMatchObject({
      functionVersion: '$LATEST',
      versionEnv: '$LATEST',
      invokedFunctionArn: arn,
      invocations: 1,
    });
    // A sandbox per version: version 2 starts cold, and at concurrency 1 takes $LATEST's place.
    expect(await payloadOf(live)).toMatchObject({
      functionVersion: '2',
      versionEnv: '2',
      invokedFunctionArn: `${arn}:live`,
      invocations: 1,
    });
    expect(await payloadOf(live)).toMatchObject({ functionVersion: '2', invocations: 2 });
    expect(await payloadOf()).toMatchObject({ functionVersion: '$LATEST', invocations: 1 });
  });

  it('keeps a worker warm between invocations', async () => {
    const echo = host();
    await echo.invoke({});
    const second = await echo.invoke({});

    expect(second).toEqual({ ok: true, payload: expect.objectContaining({ invocations: 2 }) });
  });

  it('turns a thrown error into a failure with its type and message', async () => {
    const outcome = await host().invoke({ action: 'throw' });

    expect(outcome).toEqual({
      ok: false,
      error: { errorType: 'RangeError', errorMessage: 'bad input' },
    });
  });

  it("gives each function its own environment and not the parent's", async () => {
    const [one, two] = await Promise.all([
      host({ environment: { MY_VAR: 'one' } }).invoke({}),
      host({ environment: { MY_VAR: 'two' } }).invoke({}),
    ]);

    expect(one).toEqual({
      ok: true,
      payload: expect.objectContaining({ env: 'one', parentOnly: null }),
    });
    expect(two).toEqual({
      ok: true,
      payload: expect.objectContaining({ env: 'two', parentOnly: null }),
    });
  });

  it('sends what the function prints to its log stream', async () => {
    const log = new PassThrough();
    let output = '';
    log.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });

    await host({}, { log }).invoke({ action: 'log', marker: 'marker-42' });

    await waitFor(() => output.includes('hello from marker-42'), {
      timeoutMs: 5_000,
      what: 'the function output in the log stream',
    });
  });

  it('times out an invocation that overruns, and the next one gets a fresh worker', async () => {
    const slow = host({ timeoutSeconds: 1 });
    await slow.invoke({});

    const timedOut = await slow.invoke({ action: 'hang' });
    const next = await slow.invoke({});

    expect(timedOut).toEqual({
      ok: false,
      error: { errorType: 'Sandbox.Timedout', errorMessage: 'Task timed out after 1 seconds' },
    });
    // invocations: 1 means module state was reset: a new worker, not the stuck one.
    expect(next).toEqual({ ok: true, payload: expect.objectContaining({ invocations: 1 }) });
  });

  it('fails the invocation with a Runtime init error when the module throws at import', async () => {
    const outcome = await host({ handler: 'broken.handler' }).invoke({});

    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error.errorType).toMatch(/^Runtime\./);
    expect(outcome.error.errorMessage).toContain('cannot load config');
  });

  it('fails with a Runtime init error when the module lacks the handler export', async () => {
    const outcome = await host({ handler: 'noexport.handler' }).invoke({});

    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error.errorType).toMatch(/^Runtime\./);
    expect(outcome.error.errorMessage).toContain('handler');
  });

  it('fails, rather than hangs, when the handler exits the process, and recovers', async () => {
    const exiting = host();

    const outcome = await exiting.invoke({ action: 'exit' });
    const next = await exiting.invoke({});

    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error.errorType).toBe('Runtime.ExitError');
    expect(outcome.error.errorMessage).toContain('3');
    expect(next).toEqual({ ok: true, payload: expect.objectContaining({ invocations: 1 }) });
  });

  it('runs up to `concurrency` invocations at once and queues the next', async () => {
    const dir = await markerDirectory();
    const parallel = host({ timeoutSeconds: 20 }, { concurrency: 2 });

    // a and b each wait for the other to start: they finish only if they run together.
    const a = parallel.invoke({ action: 'meet', dir, me: 'a', other: 'b' });
    const b = parallel.invoke({ action: 'meet', dir, me: 'b', other: 'a' });
    const c = parallel.invoke({ action: 'third', dir });

    expect(await a).toEqual({ ok: true, payload: { met: true } });
    expect(await b).toEqual({ ok: true, payload: { met: true } });
    // c started only once a or b had finished: it waited for a free worker.
    expect(await c).toEqual({ ok: true, payload: { afterDone: true } });
  });

  it('resolves the running and the queued invocations with a failure on close', async () => {
    const dir = await markerDirectory();
    const marker = path.join(dir, 'hanging');
    const closing = host({ timeoutSeconds: 20 });
    const running = closing.invoke({ action: 'hang', marker });
    const queued = closing.invoke({});
    await waitFor(() => existsSync(marker), { timeoutMs: 10_000, what: 'the handler to start' });

    await closing.close();

    expect(await queued).toEqual({
      ok: false,
      error: { errorType: 'Local.Closed', errorMessage: expect.any(String) },
    });
    expect((await running).ok).toBe(false);
    expect(await closing.invoke({})).toEqual(
      expect.objectContaining({
        ok: false,
        error: expect.objectContaining({ errorType: 'Local.Closed' }),
      }),
    );
  });

  it('resolves `index.handler` to index.mjs before index.js, as the Node.js runtime does', async () => {
    const dir = await markerDirectory();
    await writeFile(
      path.join(dir, 'index.mjs'),
      "export const handler = async () => 'from mjs';\n",
    );
    await writeFile(path.join(dir, 'index.js'), "exports.handler = async () => 'from js';\n");

    const outcome = await host({ codeDirectory: dir, handler: 'index.handler' }).invoke({});

    expect(outcome).toEqual({ ok: true, payload: 'from mjs' });
  });

  it('swaps code between invocations: the next runs the new code, one already running finishes on the old', async () => {
    const dir = await markerDirectory();
    const version = async (name: string) => {
      const versionDir = path.join(dir, name);
      await mkdir(versionDir);
      await writeFile(
        path.join(versionDir, 'index.mjs'),
        `import { existsSync, writeFileSync } from 'node:fs';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let invocations = 0;
export const handler = async (event) => {
  invocations += 1;
  if (event.started) writeFileSync(event.started, '');
  while (event.release && !existsSync(event.release)) await sleep(10);
  return { version: '${name}', invocations };
};
`,
      );
      return versionDir;
    };
    const swapping = host({ codeDirectory: await version('v1') }, { concurrency: 2 });
    expect(await swapping.invoke({})).toEqual({
      ok: true,
      payload: { version: 'v1', invocations: 1 },
    });
    const started = path.join(dir, 'started');
    const release = path.join(dir, 'release');
    const running = swapping.invoke({ started, release });
    await waitFor(() => existsSync(started), { timeoutMs: 10_000, what: 'the handler to start' });

    swapping.replaceCode(await version('v2'));

    expect(await swapping.invoke({})).toEqual({
      ok: true,
      payload: { version: 'v2', invocations: 1 },
    });
    await writeFile(release, '');
    expect(await running).toEqual({ ok: true, payload: { version: 'v1', invocations: 2 } });
    // The old code's worker is not kept warm: every later invocation runs v2.
    const later = await Promise.all([swapping.invoke({}), swapping.invoke({})]);
    expect(later.map((o) => (o.ok ? (o.payload as { version: string }).version : o))).toEqual([
      'v2',
      'v2',
    ]);
  });

  it('applies a new configuration from the next invocation: environment and timeout', async () => {
    const configured = host({ environment: { MY_VAR: 'before' }, timeoutSeconds: 3 });
    expect(await configured.invoke({})).toMatchObject({ ok: true, payload: { env: 'before' } });

    configured.update({ environment: { MY_VAR: 'after' }, timeoutSeconds: 1 });

    const after = await configured.invoke({});
    expect(after).toMatchObject({ ok: true, payload: { env: 'after', invocations: 1 } });
    expect(
      (after.ok ? (after.payload as { remaining: number }) : { remaining: 0 }).remaining,
    ).toBeLessThanOrEqual(1000);
    expect(configured.definition.environment).toEqual({ MY_VAR: 'after' });
  });

  it('refuses to swap to code without the handler, and keeps the old', async () => {
    const dir = await markerDirectory();
    const keeping = host();
    expect(() => keeping.replaceCode(dir)).toThrow(/no module index/);
    expect((await keeping.invoke({})).ok).toBe(true);
  });

  it('refuses a handler whose module is missing, naming the directory', () => {
    expect(() => host({ handler: 'missing.handler' })).toThrow(codeDirectory);
    expect(() => host({ handler: 'missing.handler' })).toThrow(/missing/);
  });
});

describe('runtimeExecArgv', () => {
  test('drops the TypeScript loader the host runs under, in either spelling, and keeps the rest', () => {
    expect(
      runtimeExecArgv([
        '--require',
        '/app/node_modules/tsx/dist/preflight.cjs',
        '--import',
        'file:///app/node_modules/tsx/dist/loader.mjs',
        '--import=file:///app/node_modules/tsx/dist/loader.mjs',
        '--enable-source-maps',
        '--require',
        '/app/instrument.cjs',
        '--max-old-space-size=512',
      ]),
    ).toEqual([
      '--enable-source-maps',
      '--require',
      '/app/instrument.cjs',
      '--max-old-space-size=512',
    ]);
  });
});

describe('runtime modules (the AWS SDK Lambda provides) outside the bundle', () => {
  /** This repository's root: its node_modules hold the SDK, as an app's would. */
  const APP_DIR = path.resolve(__dirname, '..', '..', '..');
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'runtime-modules-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const codeWith = async (files: Record<string, string>) => {
    for (const [name, text] of Object.entries(files)) {
      await writeFile(path.join(dir, name), text);
    }
    return dir;
  };

  test.each([
    ["import { SQSClient } from '@aws-sdk/client-sqs';", true],
    ['export * from "@smithy/types";', true],
    ["const sdk = await import('@aws-sdk/client-s3');", true],
    // A bundle that includes the SDK names its packages only in strings, and requires
    // what it leaves out through createRequire, which needs no hook.
    ['const ua = ["@aws-sdk/client-sqs", "3.0"]; const x = require("@aws-sdk/client-sqs");', false],
    ['export const handler = async () => "no SDK";', false],
  ])('%s: imports a runtime module is %s', async (code, expected) => {
    expect(importsRuntimeModules(await codeWith({ 'index.mjs': code }))).toBe(expected);
  });

  test('looks in nested files, and not in files that are not JavaScript', async () => {
    await codeWith({ 'README.md': "import x from '@aws-sdk/client-sqs'" });
    expect(importsRuntimeModules(dir)).toBe(false);
    await mkdir(path.join(dir, 'chunks'));
    await codeWith({ 'chunks/sqs.js': "import { SQSClient } from '@aws-sdk/client-sqs';" });
    expect(importsRuntimeModules(dir)).toBe(true);
  });

  test('an import the scan cannot see still finds the module: the hook is registered then', async () => {
    await codeWith({
      'index.mjs': `const name = ['@aws-sdk', 'client-sqs'].join('/');
const { SQSClient } = await import(name);
export const handler = async () => typeof SQSClient;
`,
    });
    expect(importsRuntimeModules(dir)).toBe(false);

    const outcome = await host({ codeDirectory: dir, appDir: APP_DIR }).invoke({});

    expect(outcome).toEqual({ ok: true, payload: 'function' });
  });

  test('a static import is served from the app’s node_modules', async () => {
    await codeWith({
      'index.mjs': `import { SQSClient } from '@aws-sdk/client-sqs';
export const handler = async () => typeof SQSClient;
`,
    });
    const outcome = await host({ codeDirectory: dir, appDir: APP_DIR }).invoke({});
    expect(outcome).toEqual({ ok: true, payload: 'function' });
  });
});
