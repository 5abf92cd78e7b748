import type { SummaryRow } from '../section';
import { formatMeasured } from '../stats';
import { type CustomerRun, GOALS, type LocalCloudResult, type StartRun } from './result';

const perSecond = (value: number | null): string =>
  value === null ? '–' : `${value.toFixed(1)}/s`;
const seconds = (value: number | null): string => (value === null ? '–' : `${value.toFixed(1)} s`);

const ceilingText = (result: LocalCloudResult): string =>
  `moto alone: ${result.ceiling.transactWritesPerSecond.toFixed(0)} TransactWriteItems/s, ${result.ceiling.getItemsPerSecond.toFixed(0)} GetItem/s`;

const startOf = (result: LocalCloudResult, how: 'synthesized' | 'reused'): StartRun | undefined =>
  result.starts.find((s) => s.assembly === how);

const e2eText = (result: LocalCloudResult): string => {
  const { e2e } = result;
  if (e2e.skipped) return `not run (${e2e.reason})`;
  return `${e2e.seconds.toFixed(0)} s (${e2e.exitCode === 0 ? 'passed' : `exit ${e2e.exitCode}`}${e2e.tests ? `; ${e2e.tests}` : ''})`;
};

const watchText = (result: LocalCloudResult): string => {
  const { watch } = result;
  if (watch === undefined) return 'not measured';
  if (watch.skipped) return `not run (${watch.reason})`;
  return `${formatMeasured(watch.savedToServed)} saved → served (the reload lines: ${formatMeasured(watch.reloadLines)}; watching ${watch.warmUpSeconds.toFixed(1)} s after ready)`;
};

const runRow = (label: string, run: CustomerRun): string =>
  `| ${label} | ${run.customers} | ${run.clients} | ${run.created} | ${run.welcomed} | ${seconds(run.seconds)} | ${perSecond(run.perSecond)} | ${run.problems.join('; ') || 'none'} |`;

export function render(result: LocalCloudResult): string {
  const { burst, scaling, ceiling } = result;
  const s = scaling.scaling;
  const startRows = result.starts.map(
    (start, i) =>
      `| ${i + 1} | ${start.assembly ?? 'no ready line'} | ${seconds(start.readySeconds)} | ${seconds(start.wallSeconds)} |`,
  );
  return [
    '## Local cloud: a burst of customers, scaling, `npm start` and the end-to-end suite',
    '',
    `The local cloud on this machine (moto through its launcher, time scale ${result.timeScale}), measured in one run of ${result.durationSeconds} s. ` +
      'Each run of customers starts a fresh local cloud and sends its first POST at once (no warm-up: the functions’ cold starts are in the figure). ' +
      `${burst.clients} clients each POST the next customer (opted in) as soon as their last was answered; a customer is done when the provider’s stand-in accepted its welcome (the sink’s receivedAt). ` +
      'Rates run from the first POST to the last welcome. Times are the emulator’s, not AWS’s.',
    '',
    '| run | customers | clients | created | welcomed | first POST → last welcome | customers/s | problems |',
    '|---|---|---|---|---|---|---|---|',
    runRow('burst', burst),
    runRow('scaling', scaling),
    '',
    s === null
      ? 'Scaling: too few customers welcomed for two windows; not measured.'
      : `Scaling: the first ${s.window} welcomes came at ${perSecond(s.firstPerSecond)} (from the first POST), the last ${s.window} at ${perSecond(s.lastPerSecond)}: ` +
        `a ratio of ${s.ratio.toFixed(2)} (goal ≥ ${GOALS.scalingRatio}; above 1, the cloud ran faster once warm than it slowed as moto filled).`,
    '',
    `moto’s own ceiling, on the burst’s cloud once the pipeline was idle, from ${ceiling.clients} concurrent SDK clients straight to the emulator (no function, no proxy, one attempt per call), ${ceiling.seconds} s each: ` +
      `${ceiling.transactWritesPerSecond.toFixed(1)} TransactWriteItems/s (two conditional puts of new items into a throwaway table with a stream, as the API’s create; ${ceiling.transactWriteErrors} errors), ` +
      `${ceiling.getItemsPerSecond.toFixed(1)} GetItem/s (${ceiling.getItemErrors} errors). ` +
      (burst.perSecond === null
        ? ''
        : `The burst’s ${perSecond(burst.perSecond)} is ${((100 * burst.perSecond) / ceiling.transactWritesPerSecond).toFixed(0)} % of the raw transaction rate; each customer also costs the welcome’s claim and mark and marketing’s consent record, and stream and queue reads.`),
    '',
    `\`npm start\` to ready: the app’s start script (local/start.ts) ${result.starts.length === 1 ? 'launched once, then stopped' : `launched ${result.starts.length} times with one work directory, stopped after each`}. ` +
      'The ready line’s seconds are the local cloud’s own; spawn → state file adds starting Node and tsx.',
    '',
    '| launch | assembly | ready line | spawn → state file |',
    '|---|---|---|---|',
    ...startRows,
    '',
    '`npm start -- --watch` on a copy of the app: saves of the API’s handler, each adding a header with a new value, about half a second apart; ' +
      'timed from the write to the first answer carrying the new value, with a request every 10 ms to a warm API (the reload’s cold start is in the figure), once watch mode’s first builds are done; ' +
      `the reload lines time the first change seen → the new code swapped in. ${watchText(result)}.`,
    '',
    `End-to-end suite (\`npx jest --selectProjects e2e\` from the repository’s root, spawn to exit): ${e2eText(result)}.`,
  ].join('\n');
}

export function summaryRows(result: LocalCloudResult): SummaryRow[] {
  const { burst, scaling } = result;
  const s = scaling.scaling;
  const reused = startOf(result, 'reused');
  const synthesized = startOf(result, 'synthesized');
  return [
    {
      metric: `Local cloud: ${burst.customers} customers created by ${burst.clients} concurrent clients, until every welcome is sent`,
      value: `${perSecond(burst.perSecond)} (${ceilingText(result)})`,
      goal: `≥ ${GOALS.burstPerSecond}/s`,
      met: burst.perSecond !== null && burst.perSecond >= GOALS.burstPerSecond,
    },
    {
      metric: `Local cloud: rate over the last ${s?.window ?? scaling.customers / 4} of ${scaling.customers} customers ÷ over the first`,
      value:
        s === null
          ? 'not measured'
          : `${s.ratio.toFixed(2)} (${perSecond(s.firstPerSecond)} → ${perSecond(s.lastPerSecond)})`,
      goal: `≥ ${GOALS.scalingRatio}`,
      met: s !== null && scaling.problems.length === 0 && s.ratio >= GOALS.scalingRatio,
    },
    {
      metric: '`npm start` to ready, nothing changed since the last synth (assembly reused)',
      value:
        reused === undefined
          ? 'not measured (one start only)'
          : `${seconds(reused.readySeconds)} (spawn → state file ${seconds(reused.wallSeconds)})`,
      goal: `≤ ${GOALS.reusedStartSeconds} s`,
      met:
        reused === undefined
          ? null
          : reused.readySeconds !== null && reused.readySeconds <= GOALS.reusedStartSeconds,
    },
    {
      metric: '`npm start` to ready, first start (assembly synthesized)',
      value:
        synthesized === undefined
          ? 'not measured'
          : `${seconds(synthesized.readySeconds)} (spawn → state file ${seconds(synthesized.wallSeconds)})`,
      goal: '–',
      met: null,
    },
    {
      metric:
        '`npm start -- --watch`: a saved handler → its next request served by the new code (median)',
      value: watchText(result),
      goal: `≤ ${GOALS.watchReloadMs} ms`,
      met:
        result.watch === undefined || result.watch.skipped
          ? null
          : result.watch.savedToServed.median <= GOALS.watchReloadMs,
    },
    {
      metric: 'End-to-end suite (`jest --selectProjects e2e`)',
      value: e2eText(result),
      goal: `≤ ${GOALS.e2eSeconds} s`,
      met: result.e2e.skipped
        ? null
        : result.e2e.exitCode === 0 && result.e2e.seconds <= GOALS.e2eSeconds,
    },
  ];
}
