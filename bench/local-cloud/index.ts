import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TIME_SCALE, waitForSettled, withCloud } from '../pipeline/driver';
import type { Section, SectionContext } from '../section';
import { formatMeasured } from '../stats';
import { measureCeiling } from './ceiling';
import { createCustomers } from './customers';
import { timeE2e } from './e2e';
import { scalingOf } from './measure';
import { render, summaryRows } from './report';
import type { E2eRun, LocalCloudResult, ScalingRun, StartRun, WatchRun } from './result';
import { timeStart } from './start';
import { timeWatch } from './watch';

export type { LocalCloudResult } from './result';

const CLIENTS = 10;
const CEILING_CLIENTS = 8;

const run = async ({ quick, log }: SectionContext): Promise<LocalCloudResult> => {
  const startedAt = Date.now();
  const burstCustomers = quick ? 50 : 200;
  const scalingCustomers = quick ? 200 : 2000;
  const ceilingSeconds = quick ? 3 : 10;
  const startCount = quick ? 1 : 2;

  log(`burst: ${burstCustomers} customers by ${CLIENTS} clients on a fresh local cloud`);
  const { burst, ceiling, timeScale } = await withCloud(log, async (cloud) => {
    const { run: burst } = await createCustomers(cloud, burstCustomers, CLIENTS, log);
    // The archive and marketing consumers finish first, so that moto is measured alone.
    await waitForSettled(cloud, 'the burst to drain', async () => true, {
      timeoutMs: 60_000,
    }).catch(() => log('  the pipeline was still busy 60 s after; measuring moto anyway'));
    log(`moto's ceiling: ${CEILING_CLIENTS} clients, ${ceilingSeconds} s per operation`);
    const ceiling = await measureCeiling(cloud.state, CEILING_CLIENTS, ceilingSeconds);
    log(
      `  TransactWriteItems ${ceiling.transactWritesPerSecond.toFixed(0)}/s (${ceiling.transactWriteErrors} errors), ` +
        `GetItem ${ceiling.getItemsPerSecond.toFixed(0)}/s (${ceiling.getItemErrors} errors)`,
    );
    return { burst, ceiling, timeScale: cloud.state.timeScale };
  });

  log(`scaling: ${scalingCustomers} customers by ${CLIENTS} clients on a fresh local cloud`);
  const scaling: ScalingRun = await withCloud(log, async (cloud) => {
    const times = await createCustomers(cloud, scalingCustomers, CLIENTS, log);
    const result = scalingOf(times.startMs, times.welcomesMs, scalingCustomers / 4);
    if (result !== null) {
      log(
        `  last ${result.window} ${result.lastPerSecond.toFixed(1)}/s ÷ first ${result.window} ${result.firstPerSecond.toFixed(1)}/s = ${result.ratio.toFixed(2)}`,
      );
    }
    return { ...times.run, scaling: result };
  });

  const starts: StartRun[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'customer-pipeline-bench-start-'));
  try {
    for (let i = 0; i < startCount; i += 1) {
      log(`start ${i + 1} of ${startCount}, work directory ${dir} …`);
      const start = await timeStart(dir, TIME_SCALE);
      log(
        `  ready line: ${start.readySeconds ?? '–'} s (assembly ${start.assembly ?? 'not said'}); spawn to state file ${start.wallSeconds.toFixed(1)} s`,
      );
      starts.push(start);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const edits = quick ? 2 : 7;
  log(`watch mode: ${edits} saves of the API's handler on a copy of the app`);
  const watch: WatchRun = await timeWatch(edits, TIME_SCALE, log).catch((error: Error) => {
    log(`  watch mode failed: ${error.message}`);
    return { skipped: true, reason: `it failed: ${error.message}` };
  });
  if (!watch.skipped) {
    log(`  saved → served: ${formatMeasured(watch.savedToServed)}`);
  }

  let e2e: E2eRun;
  if (quick) {
    e2e = { skipped: true, reason: 'a quick run' };
    log('end-to-end suite: skipped in a quick run');
  } else {
    const logFile = path.join(os.tmpdir(), `customer-pipeline-bench-e2e-${Date.now()}.log`);
    log(`end-to-end suite: npx jest --selectProjects e2e, output to ${logFile} …`);
    e2e = await timeE2e(logFile);
    if (!e2e.skipped) {
      log(
        `  ${e2e.seconds.toFixed(0)} s, exit ${e2e.exitCode}; tests: ${e2e.tests ?? 'no summary'}`,
      );
    }
  }

  return {
    timeScale,
    burst,
    ceiling,
    scaling,
    starts,
    e2e,
    watch,
    durationSeconds: Math.round((Date.now() - startedAt) / 1000),
  };
};

/**
 * The local cloud itself, issue 11's targets: a burst of customers until every welcome
 * is sent, beside moto's own ceiling on the same cloud; whether the rate holds as the
 * emulator fills; `npm start` to ready, synthesized and reused; the end-to-end suite's time.
 */
export const localCloud: Section<LocalCloudResult> = {
  name: 'localCloud',
  run,
  render,
  summaryRows,
};
