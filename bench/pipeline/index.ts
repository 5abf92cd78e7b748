import type { Section, SectionContext } from '../section';
import { withCloud } from './driver';
import { iamAfterLifecycle, iamReport } from './iam';
import { latencyRateOf, loadRun } from './load';
import { measureCalls } from './measure-calls';
import { render, summaryRows } from './report';
import type { LoadRun, PipelineResult } from './result';
import { readTemplate } from './template';

export type { Action, CallRange, Range } from './calls';
export type { ActionCalls, LatencySet, LoadRun, PipelineResult } from './result';

const run = async (options: SectionContext): Promise<PipelineResult> => {
  const { quick, log } = options;
  const startedAt = Date.now();
  const cycles = quick ? 1 : 5;
  const customersPerRun = quick ? 20 : 200;
  // The emulator's range, far below AWS's: each rate runs on a fresh cloud.
  const rates = quick ? [2] : [1, 2, 5];

  const { calls, functions, mappings, timeScale, iam } = await withCloud(log, async (cloud) => {
    const config = readTemplate(cloud.template);
    log(`calls per customer: ${cycles} create/avatar/update/delete cycle(s), one at a time`);
    const measured = await measureCalls(cloud, config.functions, cycles, log);
    return {
      ...config,
      calls: measured,
      timeScale: cloud.state.timeScale,
      iam: iamAfterLifecycle(await iamReport(cloud)),
    };
  });

  log(
    `latency and throughput: ${customersPerRun} customers per rate, opted in, a fresh cloud each`,
  );
  const runs: LoadRun[] = [];
  for (const rate of rates) {
    const result = await withCloud(log, async (cloud) => {
      // Starts the workers the run will use, so its first customers pay no cold start.
      await loadRun(cloud, functions, 8, 8, (line) => log(`  warm-up, ${line.trim()}`));
      return loadRun(cloud, functions, rate, customersPerRun, log);
    });
    runs.push(result);
    // A rate the pipeline cannot keep up with: higher ones would only fail longer.
    if (!result.ok) break;
  }
  const passed = runs.filter((r) => r.ok);
  const sustained = passed.length > 0 ? Math.max(...passed.map((r) => r.offeredPerSecond)) : null;
  return {
    timeScale,
    functions,
    mappings,
    calls,
    load: {
      customersPerRun,
      latencyRate: latencyRateOf(runs),
      runs,
      sustainedPerSecond: sustained,
      sustainedIsLowerBound: sustained !== null && sustained === rates[rates.length - 1],
    },
    iam,
    durationSeconds: Math.round((Date.now() - startedAt) / 1000),
  };
};

/**
 * The pipeline on the local cloud: the AWS calls each function makes per customer
 * (against the fewest the design allows), then end-to-end latency and the highest
 * steady rate the local cloud sustains. One local cloud for the calls and a fresh one
 * per rate, started and stopped here. Absolute times are the emulator's, not AWS's.
 */
export const pipeline: Section<PipelineResult> = { name: 'pipeline', run, render, summaryRows };
