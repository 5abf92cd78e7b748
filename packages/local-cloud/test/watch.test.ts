import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import type { CfnResource } from '../src/model';
import { waitFor } from '../src/net';
import { FunctionHost } from '../src/runtime/function-host';
import { type CodeWatch, CodeWatcher, type FunctionBundler } from '../src/watch';

// Watch mode, with a stand-in bundler: a function's "bundle" is its source file with a
// handler around it, and a source containing SYNTAX ERROR does not build.

jest.setTimeout(30_000);

let root: string;
let sources: string;
let infra: string;
const lines: string[] = [];
const hosts: FunctionHost[] = [];
let watcher: CodeWatcher | undefined;

/** `answer.txt` → a handler that returns its text; `shared.txt` is read by every function. */
const bundlerOf = (name: string): FunctionBundler => ({
  build: async () => {
    const own = path.join(sources, `${name}.txt`);
    const shared = path.join(sources, 'shared.txt');
    const text = `${fs.readFileSync(shared, 'utf8')}${fs.readFileSync(own, 'utf8')}`;
    if (text.includes('SYNTAX ERROR')) {
      throw new Error(`${name}.txt:1:1: ERROR: Unexpected "ERROR"`);
    }
    return {
      inputs: [own, shared],
      files: [
        {
          name: 'index.mjs',
          contents: Buffer.from(`export const handler = async () => ${JSON.stringify(text)};\n`),
        },
      ],
    };
  },
  dispose: async () => {},
});

const watch: CodeWatch = {
  get codeRoots() {
    return [sources];
  },
  get infraRoots() {
    return [infra];
  },
  bundlerFor: (logicalId) => (logicalId === 'Unbuilt' ? undefined : bundlerOf(logicalId)),
};

const hostOf = (name: string, text: string): FunctionHost => {
  const dir = path.join(root, 'assembly', name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'index.mjs'),
    `export const handler = async () => ${JSON.stringify(text)};\n`,
  );
  const host = new FunctionHost(
    {
      logicalId: name,
      functionName: name,
      functionArn: `arn:aws:lambda:us-east-1:123456789012:function:${name}`,
      codeDirectory: dir,
      appDir: root,
      handler: 'index.handler',
      environment: {},
      timeoutSeconds: 3,
      memorySize: 128,
    },
    { concurrency: 1, log: new PassThrough() },
  );
  hosts.push(host);
  return host;
};

const answer = async (host: FunctionHost) => {
  const outcome = await host.invoke({});
  return outcome.ok ? outcome.payload : outcome.error;
};

const startWatching = async (
  names: string[],
  onInfraChange?: (files: readonly string[]) => Promise<void>,
) => {
  const functions = names.map((name) => ({
    logicalId: name,
    name: name.toLowerCase(),
    resource: { Type: 'AWS::Lambda::Function' } as CfnResource,
    host: hostOf(name, `${name} as synthesized`),
  }));
  watcher = new CodeWatcher(watch, {
    workDir: path.join(root, 'watch'),
    print: (line) => lines.push(line),
    onInfraChange,
  });
  watcher.start(functions);
  await watcher.ready;
  return Object.fromEntries(functions.map((f) => [f.logicalId, f.host]));
};

const save = (file: string, text: string) => fs.writeFileSync(path.join(sources, file), text);

beforeEach(() => {
  root = fs.mkdtempSync(path.join(tmpdir(), 'watch-'));
  sources = path.join(root, 'src');
  infra = path.join(root, 'lib');
  fs.mkdirSync(sources);
  fs.mkdirSync(infra);
  save('shared.txt', '');
  save('Welcome.txt', 'hello');
  save('Archive.txt', 'stored');
  lines.length = 0;
});

afterEach(async () => {
  await watcher?.stop();
  watcher = undefined;
  await Promise.all(hosts.splice(0).map((h) => h.close()));
  fs.rmSync(root, { recursive: true, force: true });
});

test('a saved source rebuilds the function that reads it, which serves the new code next; the others are left alone', async () => {
  const { Welcome, Archive } = await startWatching(['Welcome', 'Archive']);
  expect(lines).toEqual([
    expect.stringMatching(
      /^watching .*src: 2 functions rebuilt on save \(ready to watch in [\d.]+ s\)$/,
    ),
  ]);
  expect(await answer(Welcome as FunctionHost)).toBe('Welcome as synthesized');

  save('Welcome.txt', 'hello again');

  await waitFor(async () => (await answer(Welcome as FunctionHost)) === 'hello again', {
    timeoutMs: 10_000,
    what: 'the new code to serve',
  });
  expect(lines).toContainEqual(
    expect.stringMatching(/^reloaded welcome in [\d.]+ s \(rebuild [\d.]+ s, swap [\d.]+ s\)$/),
  );
  expect(await answer(Archive as FunctionHost)).toBe('Archive as synthesized');
});

test('a file every function reads reloads them all, in one line', async () => {
  const { Welcome, Archive } = await startWatching(['Welcome', 'Archive']);

  save('shared.txt', 'v2 ');

  await waitFor(async () => (await answer(Archive as FunctionHost)) === 'v2 stored', {
    timeoutMs: 10_000,
    what: 'the archive to reload',
  });
  expect(await answer(Welcome as FunctionHost)).toBe('v2 hello');
  expect(lines.filter((line) => line.startsWith('reloaded'))).toEqual([
    expect.stringMatching(/^reloaded (welcome, archive|archive, welcome) in /),
  ]);
});

test('code that does not build keeps the old code serving, says so once, and the next good save recovers', async () => {
  const { Welcome } = await startWatching(['Welcome']);
  save('Welcome.txt', 'hello v2');
  await waitFor(async () => (await answer(Welcome as FunctionHost)) === 'hello v2', {
    timeoutMs: 10_000,
    what: 'the first reload',
  });

  save('Welcome.txt', 'SYNTAX ERROR');
  await waitFor(() => lines.some((line) => line.includes('does not build')), {
    timeoutMs: 10_000,
    what: 'the build error',
  });
  expect(await answer(Welcome as FunctionHost)).toBe('hello v2');
  save('Welcome.txt', 'SYNTAX ERROR');
  save('Welcome.txt', 'SYNTAX ERROR');
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(lines.filter((line) => line.includes('does not build'))).toEqual([
    'welcome: the saved code does not build; the last good code keeps serving:\nWelcome.txt:1:1: ERROR: Unexpected "ERROR"',
  ]);

  save('Welcome.txt', 'hello v3');
  await waitFor(async () => (await answer(Welcome as FunctionHost)) === 'hello v3', {
    timeoutMs: 10_000,
    what: 'the recovery',
  });
});

test('a function the app does not build is not watched; a change to the stack’s code asks for a restart', async () => {
  await startWatching(['Welcome', 'Unbuilt']);
  expect(lines[0]).toMatch(/: 1 function rebuilt on save/);

  fs.writeFileSync(path.join(infra, 'stack.ts'), 'export {};\n');

  await waitFor(() => lines.some((line) => line.includes('stack.ts changed')), {
    timeoutMs: 10_000,
    what: 'the restart line',
  });
  expect(lines).toContainEqual(expect.stringMatching(/stack\.ts changed: restart to apply it$/));
});

test('a change to the stack’s code goes to onInfraChange once per burst of saves, and the code reloads wait their turn', async () => {
  const calls: (readonly string[])[] = [];
  let release = () => {};
  const { Welcome } = await startWatching(['Welcome'], async (files) => {
    calls.push(files);
    await new Promise<void>((resolve) => {
      release = resolve;
    });
  });

  fs.writeFileSync(path.join(infra, 'stack.ts'), 'export const a = 1;\n');
  fs.writeFileSync(path.join(infra, 'stack.ts'), 'export const a = 2;\n');
  await waitFor(() => calls.length === 1, { timeoutMs: 10_000, what: 'the re-synthesis' });
  expect(calls[0]?.map((file) => path.basename(file))).toEqual(['stack.ts']);

  // A handler saved while the synth runs reloads after it.
  save('Welcome.txt', 'after the synth');
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(await answer(Welcome as FunctionHost)).toBe('Welcome as synthesized');
  release();
  await waitFor(async () => (await answer(Welcome as FunctionHost)) === 'after the synth', {
    timeoutMs: 10_000,
    what: 'the reload after the synth',
  });
  expect(calls).toHaveLength(1);
});
