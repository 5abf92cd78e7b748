import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { jestTestsLine } from './measure';
import type { E2eRun } from './result';

const REPO_ROOT = path.join(__dirname, '..', '..');
/** Five times what it took before issue 11: a hung suite, not a slow one. */
const TIMEOUT_MS = 15 * 60_000;

/** `npx jest --selectProjects e2e` from the repository's root, timed from spawn to exit. */
export const timeE2e = async (logFile: string): Promise<E2eRun> => {
  const out = fs.openSync(logFile, 'w');
  const startedAt = Date.now();
  const child = spawn('npx', ['jest', '--selectProjects', 'e2e'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  const timer = setTimeout(() => child.kill('SIGTERM'), TIMEOUT_MS);
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  }).finally(() => clearTimeout(timer));
  return {
    skipped: false,
    seconds: (Date.now() - startedAt) / 1000,
    exitCode,
    tests: jestTestsLine(fs.readFileSync(logFile, 'utf8')),
  };
};
