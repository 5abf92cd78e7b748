import type { SummaryRow } from '../section';
import { formatMeasured, type Measured } from '../stats';
import { SDK_CLIENTS } from './build';
import { type ColdStartResult, GOAL_RATIO, type HandlerResult } from './result';

// The cold-start section written up: its part of bench/RESULTS.md and its summary rows.

const kib = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KiB`;
const ms = (m: Measured): string => `${m.median.toFixed(0)} ± ${(m.iqr / 2).toFixed(0)}`;
const pair = (ours: Measured, dflt: Measured): string => `${ms(ours)} / ${ms(dflt)} ms`;
const overBare = (m: Measured, bare: Measured): number => m.median - bare.median;
const percent = (part: number, whole: number): string => `${((100 * part) / whole).toFixed(0)}%`;

/** Ours' budget over bare Node under the goal: half the default's. */
export const budgetMs = (h: HandlerResult, bare: Measured): number =>
  GOAL_RATIO * overBare(h.default.total, bare);

/** One line per handler that misses the goal: where ours' time over bare Node goes. */
export const missedLine = (h: HandlerResult, bare: Measured): string => {
  const load = h.ours.load.median;
  const invoke = h.ours.firstInvoke.median;
  const budget = budgetMs(h, bare);
  const largest = h.composition
    .slice(0, 3)
    .map((s) => s.group)
    .join(', ');
  return (
    `- **${h.handler}** (${h.overheadRatio.toFixed(2)}×, budget ${budget.toFixed(0)} ms): ` +
    `${overBare(h.ours.total, bare).toFixed(0)} ms over bare Node, of which loading the bundle ${load.toFixed(0)} ms (default ${h.default.load.median.toFixed(0)}) ` +
    `and the first invocation ${invoke.toFixed(0)} ms (default ${h.default.firstInvoke.median.toFixed(0)}). ` +
    (load >= invoke
      ? `Loading dominates: compiling and running ${kib(h.ours.bundleBytes)} of code, most of it ${largest}.`
      : "The first invocation dominates: the SDK clients' first requests (credentials, endpoint rules, signing, a connection)" +
        `${h.handler === 'welcome' ? ' and the provider call' : ''}, which the default pays too.`) +
    (invoke >= budget
      ? ` The first invocation alone exceeds the budget, so no bundle, however small, meets the goal here.`
      : '') +
    sdkFloorSentence(h, budget)
  );
};

/**
 * What the handler's SDK clients alone cost to load, against what the budget leaves
 * for loading once ours' first invocation is paid: when they exceed it, no bundling of
 * this handler meets the goal while it calls AWS through those clients.
 */
export const sdkFloorSentence = (h: HandlerResult, budget: number): string => {
  if (h.sdkClients === undefined) return '';
  const left = budget - h.ours.firstInvoke.median;
  const clients = h.sdkClients.packages.map((pkg) => SDK_CLIENTS[pkg]).join(' and ');
  const load = h.sdkClients.load.median;
  return (
    ` Its SDK clients alone (${clients}, created and nothing else: ${kib(h.sdkClients.bytes)}) load in ${load.toFixed(0)} ms` +
    (load >= left
      ? `, more than the ${Math.max(0, left).toFixed(0)} ms the budget leaves for loading after the first invocation: no bundling meets the goal while the handler calls AWS through the SDK for JavaScript v3, only a lighter client would (requests signed by hand, e.g. with aws4fetch). The rest of ours' load (${(h.ours.load.median - load).toFixed(0)} ms) is its own code, zod, Powertools and the commands it sends.`
      : `, within the ${left.toFixed(0)} ms the budget leaves for loading after the first invocation: the other ${(h.ours.load.median - load).toFixed(0)} ms of ours' load (its own code, zod, Powertools, the commands) is where to look.`)
  );
};

/** The zod APIs the bundles carry, as the report names them. */
const zodApis = (result: ColdStartResult): string =>
  [
    ...new Set(result.handlers.map((h) => (h.zod.flavour === 'mini' ? 'zod/mini' : 'classic zod'))),
  ].join(' and ');

/**
 * Handlers whose processes take clearly longer than bare Node from the first result to
 * the exit: that time counts in the goal's figure but not in a Lambda cold start.
 */
export const exitTails = (result: ColdStartResult): string[] => {
  const bareTail = result.bare.median - result.bareReady.median;
  return result.handlers
    .map((h) => ({ h, tail: h.ours.total.median - h.ours.ready.median - bareTail }))
    .filter(({ tail }) => tail > 30)
    .map(
      ({ h, tail }) =>
        `${h.handler}'s processes take ${tail.toFixed(0)} ms longer than bare Node to exit after the result (both variants). ` +
        "That time is in the goal's figure but not in a Lambda cold start; the ratio to the first result leaves it out.",
    );
};

export const render = (result: ColdStartResult): string => {
  const { bare } = result;
  const rows = result.handlers.map((h) =>
    [
      h.handler,
      `${kib(h.ours.bundleBytes)} / ${kib(h.default.bundleBytes)}`,
      pair(h.ours.load, h.default.load),
      pair(h.ours.firstInvoke, h.default.firstInvoke),
      pair(h.ours.total, h.default.total),
      `${overBare(h.ours.total, bare).toFixed(0)} / ${overBare(h.default.total, bare).toFixed(0)} ms`,
      `${h.overheadRatio.toFixed(2)}×`,
      h.goalMet ? 'met' : '**missed**',
      `${h.readyRatio.toFixed(2)}×`,
    ].join(' | '),
  );
  const compositionLines = result.handlers.map(
    (h) =>
      `- ${h.handler} (${kib(h.ours.bundleBytes)}): ${h.composition
        .map((s) => `${s.group} ${kib(s.bytes)} (${percent(s.bytes, h.ours.bundleBytes)})`)
        .join(', ')}`,
  );
  const zodSizes = result.handlers.map((h) => h.zod.bytes);
  const locales = [...new Set(result.handlers.flatMap((h) => h.zod.locales))];
  const { namespace, named, mini } = result.zodImportStyles;
  const missed = result.handlers.filter((h) => !h.goalMet);
  const worst = Math.max(...result.handlers.map((h) => h.overheadRatio));
  return [
    '## Cold start per handler',
    '',
    `Median ± IQR/2 of ${result.runsPerVariant} fresh Node processes per variant (after one untimed warm-up round), ` +
      `on ${result.cpu}, Node ${result.node}, esbuild ${result.esbuild}, target ${result.target}. ` +
      "*Ours* is PipelineFunction's minified ESM bundle with the SDK inside; *default* is NodejsFunction's default CommonJS bundle " +
      `with ${result.defaultExternals.map((e) => `\`${e}\``).join(' and ')} left to the runtime (required from this repo's node_modules through NODE_PATH, as Lambda serves its own). ` +
      'Every first invocation ran the success path against a loopback stub of the AWS endpoints and was checked: status 201 or no batch item failures, and exactly the expected AWS calls. ' +
      `Bare Node (the harness doing nothing): ${formatMeasured(bare)}. ` +
      `Load average ${result.loadAverage.before.toFixed(1)} → ${result.loadAverage.after.toFixed(1)} on ${result.cpu.split(' × ')[1] ?? '?'} cores during the runs.`,
    '',
    '| handler | bundle ours / default | load | first invocation | process total | over bare Node | ratio | goal ≤ 0.5× | ratio to first result |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map((row) => `| ${row} |`),
    '',
    "*Load* is the module import, *first invocation* the handler call to its result, *process total* spawn to exit as the parent saw it; *ratio* is (ours − bare) / (default − bare) of the process totals, the goal's figure; *ratio to first result* is the same from process start to the first result, leaving out the exit, which Lambda never does (it freezes the process).",
    ...exitTails(result).map((line) => `\n${line}`),
    '',
    "What our bundles are made of (bytes in the output, from esbuild's metafile):",
    '',
    ...compositionLines,
    '',
    `zod (${zodApis(result)}) adds ${kib(Math.min(...zodSizes))}–${kib(Math.max(...zodSizes))} to each bundle, with ${locales.length === 0 ? 'no locale' : `only the ${locales.join(', ')} locale`}: ` +
      `the namespace import does what it should. One schema bundled with our options is ${kib(namespace)} with \`import * as z from 'zod'\`, ${kib(named)} with \`import { z } from 'zod'\` (every locale), and ${kib(mini)} with zod/mini.`,
    '',
    ...(missed.length === 0
      ? [
          `Every handler meets the goal: ours costs at most ${worst.toFixed(2)}× the default's time over bare Node.`,
        ]
      : [
          `Missed for ${missed.length} of ${result.handlers.length} handlers; the budget is half the default's time over bare Node:`,
          '',
          ...missed.map((h) => missedLine(h, bare)),
        ]),
    '',
    "Caveats: a local process, not Lambda: no sandbox, no code download, this machine's CPU and Node rather than a 256–512 MB function's share and Node 24. Trust the ratio between the variants more than the milliseconds.",
    '',
  ].join('\n');
};

export const summaryRows = (result: ColdStartResult): SummaryRow[] => [
  ...result.handlers.map((h) => ({
    metric: `Cold start over bare Node, ${h.handler} (ours vs NodejsFunction default)`,
    value: `${overBare(h.ours.total, result.bare).toFixed(0)} vs ${overBare(h.default.total, result.bare).toFixed(0)} ms (${h.overheadRatio.toFixed(2)}×)`,
    goal: `≤ ${GOAL_RATIO}×`,
    met: h.goalMet,
  })),
  {
    metric: 'zod in each bundle (namespace import)',
    value: `${kib(Math.max(...result.handlers.map((h) => h.zod.bytes)))} (${zodApis(result)}), locales: ${[...new Set(result.handlers.flatMap((h) => h.zod.locales))].join(', ') || 'none'}`,
    goal: `no locale beyond en (a named import: ${kib(result.zodImportStyles.named)})`,
    met: result.handlers.every((h) => h.zod.locales.every((locale) => locale === 'en')),
  },
];
