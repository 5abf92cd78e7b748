import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CfnTemplate, LocalCloudState, PhysicalResource } from 'cdk-local-cloud';
import { emulatorClientConfig, stopLocalCloud } from 'cdk-local-cloud';
import { findResource, type ResourceRole } from '../../lib/resource-names';
import { launchCustomerPipeline } from '../../local/launch';
import type { SinkCall } from '../../local/notification-sink';
import type { CommandIo } from '../../ops/command';
import { runDlq as dlq } from '../../ops/dlq';
import { runMoveContacts as moveContacts } from '../../ops/move-contacts';
import { runRepairDeleted as repairDeleted } from '../../ops/repair-deleted';
import { E2E_TIME_SCALE } from './global-setup';

const ROOT = path.resolve(__dirname, '..', '..');

/** The running local cloud the global setup started, and clients for its emulator. */
export const connect = (stateFile = process.env.LOCAL_CLOUD_STATE) => {
  if (!stateFile) throw new Error('LOCAL_CLOUD_STATE is not set: run through the jest e2e project');
  const state = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as LocalCloudState;
  const config = emulatorClientConfig(state);
  const dynamodb = new DynamoDBClient(config);
  return {
    state,
    stateFile,
    s3: new S3Client(config),
    sqs: new SQSClient(config),
    secrets: new SecretsManagerClient(config),
    dynamodb,
    documents: DynamoDBDocumentClient.from(dynamodb),
  };
};
export type LocalCloud = ReturnType<typeof connect>;

/** The welcome provider's calls about one customer. */
export const welcomeCallsFor = (calls: readonly SinkCall[], id: string) =>
  calls.filter((call) => (call.body as { customerId?: string }).customerId === id);

/** The template the local cloud runs. */
export const templateOf = (cloud: LocalCloud): CfnTemplate =>
  JSON.parse(fs.readFileSync(cloud.state.templateFile, 'utf8')) as CfnTemplate;

/** The resource the constructs named `name` with `role` (lib/resource-names.ts), as provisioned. */
export const resourceNamed = (
  cloud: LocalCloud,
  name: string,
  role: ResourceRole,
): PhysicalResource => {
  const logicalId = findResource(templateOf(cloud), name, role);
  const resource = cloud.state.resources[logicalId];
  if (resource === undefined) throw new Error(`the local cloud did not provision ${logicalId}`);
  return resource;
};

/** The end of the local cloud's output, so a failure in CI shows what the pipeline did. */
const localCloudLogTail = (lines = 40): string => {
  const file = process.env.LOCAL_CLOUD_LOG;
  if (!file || !fs.existsSync(file)) return '';
  const tail = fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines);
  return `last ${tail.length} lines of the local cloud's output (${file}):\n${tail.join('\n')}`;
};

/** Polls `probe` until it returns a value `accept`s, or fails naming `what`. */
export const eventually = async <T>(
  what: string,
  probe: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs = 60_000,
): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (accept(last)) return last;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${what}; last seen: ${JSON.stringify(last)?.slice(0, 2000)}\n${localCloudLogTail()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
};

/** Runs one of the operations commands (`ops/dlq.ts`) against the local cloud, as an operator would. */
export const runCommand = (
  cloud: LocalCloud,
  file: string,
  ...args: string[]
): Promise<{ code: number; output: string }> =>
  new Promise((resolve) => {
    const child = spawn(path.join(ROOT, 'node_modules', '.bin', 'tsx'), [file, ...args], {
      cwd: ROOT,
      env: { ...process.env, LOCAL_CLOUD_STATE: cloud.stateFile },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('exit', (code) => resolve({ code: code ?? -1, output }));
  });

type Command = (argv: readonly string[], io: CommandIo) => Promise<number>;

/**
 * Runs an operations command in this process, as `runAsCommand` runs it from the shell,
 * pointed at `cloud`: its exit code, and what it wrote to stdout and stderr (interleaved).
 * One test runs a command through `runCommand` (`tsx`, a process of its own) to show
 * that its entry works; the rest save the process's start.
 */
const runInProcess = async (
  command: Command,
  cloud: LocalCloud,
  args: readonly string[],
): Promise<{ code: number; output: string }> => {
  let output = '';
  const write = (line: string) => {
    output += `${line}\n`;
  };
  const code = await command(args, {
    out: write,
    err: write,
    env: { ...process.env, LOCAL_CLOUD_STATE: cloud.stateFile },
    cwd: ROOT,
  });
  return { code, output };
};

/** `npm run dlq -- <args>` */
export const runDlq = (cloud: LocalCloud, ...args: string[]) => runInProcess(dlq, cloud, args);

/** `npm run repair-deleted -- <args>` */
export const runRepairDeleted = (cloud: LocalCloud, ...args: string[]) =>
  runInProcess(repairDeleted, cloud, args);

/** `npm run move-contacts -- <args>` */
export const runMoveContacts = (cloud: LocalCloud, ...args: string[]) =>
  runInProcess(moveContacts, cloud, args);

let counter = 0;
/** A customer no other test uses. */
export const newCustomerInput = (overrides: Record<string, unknown> = {}) => {
  counter += 1;
  const unique = `${Date.now().toString(36)}${counter}`;
  return {
    fullName: `Test Customer ${unique}`,
    email: `customer-${unique}@example.com`,
    dateOfBirth: '1990-05-17',
    marketingOptIn: false,
    ...overrides,
  };
};

/**
 * A local cloud of the test file's own, started before its tests from the suite's assembly
 * and stopped after them: so that files run side by side, each alone on its queues and
 * stream. Its welcome consumer calls the suite's notification sink (the assembly's
 * endpoint): look for its welcomes with `sinkCalls(connect())`.
 */
export const ownCloud = (
  name: string,
  options: { timeScale?: string; recordAgeScale?: string } = {},
): (() => LocalCloud) => {
  let cloud: LocalCloud | undefined;
  let child: ChildProcess | undefined;
  let dir: string | undefined;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), `customer-pipeline-${name}-`));
    const launched = await launchCustomerPipeline({
      dir,
      timeScale: options.timeScale ?? E2E_TIME_SCALE,
      recordAgeScale: options.recordAgeScale,
      assembly: path.dirname(connect().state.templateFile),
      readyTimeoutMs: 120_000,
    });
    child = launched.child;
    cloud = connect(launched.stateFile);
  }, 150_000);
  afterAll(async () => {
    if (child) await stopLocalCloud(child);
    if (dir && !process.env.KEEP_LOCAL_CLOUD_LOGS) fs.rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    if (cloud === undefined) throw new Error(`the ${name} cloud has not started`);
    return cloud;
  };
};
