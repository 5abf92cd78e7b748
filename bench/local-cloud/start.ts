import * as fs from 'node:fs';
import * as path from 'node:path';
import { stopLocalCloud } from 'cdk-local-cloud';
import { launchCustomerPipeline } from '../../local/launch';
import { sleep } from '../pipeline/driver';
import { parseReadyLine } from './measure';
import type { StartRun } from './result';

/** The ready line follows the state file at once; this is only a bound. */
const READY_LINE_TIMEOUT_MS = 10_000;

/**
 * Launches the app's start script (local/start.ts, what `npm start` runs) in `dir`, as
 * the tests and the bench do, until it is ready; then stops it. Each launch appends to
 * the same log, so only what this one wrote is read.
 */
export const timeStart = async (dir: string, timeScale: string): Promise<StartRun> => {
  const logFile = path.join(dir, 'local-cloud.log');
  const offset = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
  const spawnedAt = Date.now();
  const launched = await launchCustomerPipeline({ dir, timeScale });
  const wallSeconds = (Date.now() - spawnedAt) / 1000;
  try {
    const deadline = Date.now() + READY_LINE_TIMEOUT_MS;
    for (;;) {
      const ready = parseReadyLine(fs.readFileSync(launched.logFile).subarray(offset).toString());
      if (ready !== null) {
        return { assembly: ready.assembly, readySeconds: ready.seconds, wallSeconds };
      }
      if (Date.now() > deadline) return { assembly: null, readySeconds: null, wallSeconds };
      await sleep(100);
    }
  } finally {
    await stopLocalCloud(launched.child);
  }
};
