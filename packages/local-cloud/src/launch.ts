import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { sleep } from './net';

/** The package's own CLI, for apps that bring no start script of their own. */
const GENERIC_CLI = path.join(__dirname, 'cli.ts');

export interface LaunchOptions {
  /**
   * The script to run with tsx: the app's start script (one that calls
   * `runLocalCloudCliProcess` with its profile).
   * @default - this package's generic CLI
   */
  readonly entry?: string;
  /** The directory it runs in: the CDK app's. @default - the current directory */
  readonly cwd?: string;
  /** Where its state file, its output and its work directory go. */
  readonly dir: string;
  readonly timeScale: string;
  /** `--record-age-scale`. @default - not shrunk */
  readonly recordAgeScale?: string;
  /** @default - the app's, synthesized by the CLI */
  readonly assembly?: string;
  /** `-c` context for that synth. @default - none */
  readonly context?: Readonly<Record<string, string>>;
  /** More environment for the CLI (and its synth), over this process's. @default - none */
  readonly env?: Readonly<Record<string, string>>;
  /** More command-line options (`--watch`). @default - none */
  readonly args?: readonly string[];
  /** @default 180_000 */
  readonly readyTimeoutMs?: number;
}

export interface LaunchedLocalCloud {
  readonly child: ChildProcess;
  readonly stateFile: string;
  readonly workDir: string;
  /** The CLI's output. */
  readonly logFile: string;
}

const hasExited = (child: ChildProcess): boolean =>
  child.exitCode !== null || child.signalCode !== null;

const tail = (file: string): string =>
  fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').slice(-40).join('\n') : '';

/** Stops a launched local cloud: SIGTERM, so that it stops its emulator too; SIGKILL after 30 s. */
export const stopLocalCloud = async (child: ChildProcess): Promise<void> => {
  if (hasExited(child)) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
};

const tsxCli = (): string =>
  path.join(path.dirname(require.resolve('tsx/package.json')), 'dist', 'cli.mjs');

/**
 * Starts the local cloud's CLI as a child process on free ports, with its
 * own emulator, state file and work directory, and waits until it has written its state.
 * One that does not get there is stopped, and the error ends with its output.
 */
export const launchLocalCloud = async ({
  entry = GENERIC_CLI,
  cwd = process.cwd(),
  dir,
  timeScale,
  recordAgeScale,
  assembly,
  context = {},
  env: extraEnv = {},
  args = [],
  readyTimeoutMs = 180_000,
}: LaunchOptions): Promise<LaunchedLocalCloud> => {
  const stateFile = path.join(dir, 'state.json');
  const workDir = path.join(dir, 'work');
  const logFile = path.join(dir, 'local-cloud.log');
  // Ready is "the state file exists": one left by an earlier cloud in this directory is not.
  fs.rmSync(stateFile, { force: true });
  const out = fs.openSync(logFile, 'a');
  const env = { ...process.env, ...extraEnv };
  // Its own emulator, whatever the shell points at.
  delete env.AWS_ENDPOINT_URL;
  const child = spawn(
    process.execPath,
    [
      tsxCli(),
      entry,
      ...(assembly === undefined ? [] : ['--assembly', assembly]),
      ...Object.entries(context).flatMap(([key, value]) => ['--context', `${key}=${value}`]),
      '--time-scale',
      timeScale,
      ...(recordAgeScale === undefined ? [] : ['--record-age-scale', recordAgeScale]),
      '--state-file',
      stateFile,
      '--work-dir',
      workDir,
      ...args,
    ],
    { cwd, env, stdio: ['ignore', out, out] },
  );
  fs.closeSync(out);
  const deadline = Date.now() + readyTimeoutMs;
  while (!fs.existsSync(stateFile)) {
    if (hasExited(child)) {
      throw new Error(
        `the local cloud exited (${child.exitCode ?? child.signalCode}):\n${tail(logFile)}`,
      );
    }
    if (Date.now() > deadline) {
      await stopLocalCloud(child);
      throw new Error(
        `the local cloud was not ready after ${readyTimeoutMs / 1000} s:\n${tail(logFile)}`,
      );
    }
    await sleep(250);
  }
  return { child, stateFile, workDir, logFile };
};
