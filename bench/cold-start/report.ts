import type { SummaryRow } from '../section';
import { formatMeasured, type Measured } from '../stats';
import { SDK_CLIENTS } from './build';
import {
  type ColdStartResult,
  GOAL_RATIO,
  type HandlerResult,
  METRICS_GOAL_MS,
  type VariantResult,
} from './result';

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
        `${h.handler === 'welcome' ? ' and the provider call' : ''}${h.photon === undefined ? '' : ", and Photon's load and first resize (above)"}, which the default pays too.`) +
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

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** Photon's part of the cold start: loading it and the first resize, both inside the first invocation. */
export const photonMs = (h: HandlerResult): number | undefined =>
  h.photon === undefined ? undefined : h.photon.load.median + h.photon.firstResize.median;

/**
 * For a handler that resizes with Photon (loaded lazily, on its first resize): how much of
 * its first invocation, and of its time over bare Node, Photon takes.
 */
export const photonLine = (h: HandlerResult, bare: Measured): string | undefined => {
  const photon = photonMs(h);
  if (h.photon === undefined || photon === undefined) return undefined;
  const { load, firstResize, warmResize } = h.photon;
  return (
    `**${h.handler}** loads Photon on its first resize, inside the first invocation: timed alone through the same adapter (median of ${load.runs} processes), ` +
    `reading, compiling and instantiating its ${mib(h.photon.wasmBytes)} of WebAssembly takes ${ms(load)} ms and the first resize of the stub's ${h.photon.image} ${ms(firstResize)} ms (${ms(warmResize)} ms once warm). ` +
    `Photon is thus about ${photon.toFixed(0)} ms of ours' ${h.ours.firstInvoke.median.toFixed(0)} ms first invocation (${percent(photon, h.ours.firstInvoke.median)}) ` +
    `and ${percent(photon, overBare(h.ours.total, bare))} of its ${overBare(h.ours.total, bare).toFixed(0)} ms over bare Node; the rest of the invocation is the SDK's five calls. ` +
    "The default variant pays Photon alike: both get its .wasm copied beside the bundle (PipelineFunction's bundling does it; NodejsFunction does not, and a default build without the copy fails at the first resize with ENOENT, so its user would add it in `commandHooks.afterBundling`). " +
    'An upload of a real photo adds its decode and resize on top (the avatar section).'
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
      'Every first invocation ran the success path against a loopback stub of the AWS endpoints and was checked: the expected status or no batch item failures, and exactly the expected AWS calls (the avatar function: an upload of a real PNG, read, resized to a JPEG, recorded and deleted). ' +
      `Bare Node (the harness doing nothing): ${formatMeasured(bare)}. ` +
      `Load average ${result.loadAverage.before.toFixed(1)} → ${result.loadAverage.after.toFixed(1)} on ${result.cpu.split(' × ')[1] ?? '?'} cores during the runs.`,
    '',
    '| handler | bundle ours / default | load | first invocation | process total | over bare Node | ratio | goal ≤ 0.5× | ratio to first result |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map((row) => `| ${row} |`),
    '',
    "*Load* is the module import, *first invocation* the handler call to its result, *process total* spawn to exit as the parent saw it; *ratio* is (ours − bare) / (default − bare) of the process totals, the goal's figure; *ratio to first result* is the same from process start to the first result, leaving out the exit, which Lambda never does (it freezes the process).",
    ...exitTails(result).map((line) => `\n${line}`),
    ...result.handlers.flatMap((h) => {
      const line = photonLine(h, bare);
      return line === undefined ? [] : ['', line];
    }),
    ...[metricsLine(result)].flatMap((line) => (line === undefined ? [] : ['', line])),
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

/** Load plus first invocation, medians: what a probe spends once its process has started. */
const untilFirstResult = (v: VariantResult): number => v.load.median + v.firstInvoke.median;

/** What Powertools Metrics adds to a cold start over the same EMF written by hand, in ms. */
export const metricsAddedMs = (result: ColdStartResult): number | undefined =>
  result.metrics === undefined
    ? undefined
    : untilFirstResult(result.metrics.byPowertools) - untilFirstResult(result.metrics.byHand);

const metricsLine = (result: ColdStartResult): string | undefined => {
  const added = metricsAddedMs(result);
  if (result.metrics === undefined || added === undefined) return undefined;
  const { byPowertools: p, byHand: h } = result.metrics;
  return (
    `Business metrics (issue 17): one consumer invocation's three EMF lines after the Logger, through Powertools Metrics (${kib(p.bundleBytes)}) ` +
    `against the same lines from the handlers' own EMF writer (${kib(h.bundleBytes)}), alternating in fresh processes: load ${formatMeasured(p.load)} vs ${formatMeasured(h.load)}, ` +
    `first invocation ${formatMeasured(p.firstInvoke)} vs ${formatMeasured(h.firstInvoke)}, process total ${formatMeasured(p.total)} vs ${formatMeasured(h.total)}. ` +
    `Powertools Metrics adds ${added.toFixed(1)} ms to load and first invocation (issue 17 allowed it ${METRICS_GOAL_MS} ms; over that, the handlers write the EMF themselves, as they do since this measurement).`
  );
};

export const summaryRows = (result: ColdStartResult): SummaryRow[] => [
  ...result.handlers.map((h) => ({
    metric: `Cold start over bare Node, ${h.handler} (ours vs NodejsFunction default)`,
    value: `${overBare(h.ours.total, result.bare).toFixed(0)} vs ${overBare(h.default.total, result.bare).toFixed(0)} ms (${h.overheadRatio.toFixed(2)}×)`,
    goal: `≤ ${GOAL_RATIO}×`,
    met: h.goalMet,
  })),
  ...result.handlers.flatMap((h) => {
    const photon = photonMs(h);
    if (photon === undefined) return [];
    const over = overBare(h.ours.total, result.bare);
    return [
      {
        metric: `Photon in the ${h.handler} cold start (its load and first resize, inside the first invocation)`,
        value: `${photon.toFixed(0)} of ${over.toFixed(0)} ms over bare Node (${percent(photon, over)})`,
        goal: '–',
        met: null,
      },
    ];
  }),
  ...[metricsAddedMs(result)].flatMap((added) =>
    added === undefined
      ? []
      : [
          {
            metric:
              "Powertools Metrics in a cold start (load and first publish of three EMF lines, vs the handlers' own EMF writer)",
            value: `${added >= 0 ? '+' : ''}${added.toFixed(1)} ms`,
            goal: `≤ ${METRICS_GOAL_MS} ms`,
            met: added <= METRICS_GOAL_MS,
          },
        ],
  ),
  {
    metric: 'zod in each bundle (namespace import)',
    value: `${kib(Math.max(...result.handlers.map((h) => h.zod.bytes)))} (${zodApis(result)}), locales: ${[...new Set(result.handlers.flatMap((h) => h.zod.locales))].join(', ') || 'none'}`,
    goal: `no locale beyond en (a named import: ${kib(result.zodImportStyles.named)})`,
    met: result.handlers.every((h) => h.zod.locales.every((locale) => locale === 'en')),
  },
];
