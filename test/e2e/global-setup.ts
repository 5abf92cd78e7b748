import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
/** Short enough that three receives of a failing message take seconds. */
export const E2E_TIME_SCALE = '0.02';

declare global {
  // Handed from setup to teardown, which run in the same process.
  var __LOCAL_CLOUD__: { child: ChildProcess; dir: string } | undefined;
}

const logTail = (file: string): string => {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  return text.split('\n').slice(-40).join('\n');
};

/**
 * Starts the local cloud (`npm start`'s CLI) as a child process on free ports, with
 * its own emulator, state file and work directory, and waits until it is ready.
 */
export default async function globalSetup(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'customer-pipeline-e2e-'));
  const stateFile = path.join(dir, 'state.json');
  const logFile = path.join(dir, 'local-cloud.log');
  const log = fs.openSync(logFile, 'a');
  const env = { ...process.env };
  // The suite runs its own emulator, whatever the shell points at.
  delete env.AWS_ENDPOINT_URL;
  const child = spawn(
    path.join(ROOT, 'node_modules', '.bin', 'tsx'),
    [
      'local/cli.ts',
      '--time-scale',
      E2E_TIME_SCALE,
      '--state-file',
      stateFile,
      '--work-dir',
      path.join(dir, 'work'),
    ],
    { cwd: ROOT, env, stdio: ['ignore', log, log] },
  );
  globalThis.__LOCAL_CLOUD__ = { child, dir };
  process.env.LOCAL_CLOUD_STATE = stateFile;
  process.env.LOCAL_CLOUD_LOG = logFile;

  const deadline = Date.now() + 180_000;
  while (!fs.existsSync(stateFile)) {
    if (child.exitCode !== null) {
      throw new Error(`the local cloud exited (${child.exitCode}):\n${logTail(logFile)}`);
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the local cloud was not ready after 180 s:\n${logTail(logFile)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
