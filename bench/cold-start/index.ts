import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { BUNDLE_TARGET } from '../../lib/bundling';
import { formatMeasured, type Measured, measure } from '../stats';
import {
  buildOptions,
  bundle,
  cdkContext,
  composition,
  defaultExternals,
  directDependencies,
  REPO_ROOT,
  SDK_CLIENTS,
  type Share,
  sdkClientsIn,
  sdkClientsModule,
  VARIANTS,
  type Variant,
  type ZodShare,
  zodImportStyles,
  zodShare,
} from './build';
import { childEnvironment, HANDLERS, type HandlerName, type HandlerSpec } from './handlers';
import { startStub } from './stub';

export const name = 'coldStart';

/** Ours must spend at most this share of the default's time over a bare Node process. */
export const GOAL_RATIO = 0.5;

const HARNESS = path.join(__dirname, 'harness.mjs');
const MARKER = '@@cold-start-result@@';
const CHILD_TIMEOUT_MS = 30_000;

export interface HarnessReport {
  readonly importStart: number;
  readonly loaded?: number;
  readonly invoked?: number;
  readonly result?: unknown;
  readonly error?: string;
}

/** The harness's report: the last marked line of its stdout (the handler logs there too). */
export const parseHarnessOutput = (stdout: string): HarnessReport => {
  const line = stdout
    .split('\n')
    .reverse()
    .find((candidate) => candidate.startsWith(MARKER));
  if (line === undefined) throw new Error('the harness printed no result');
  const report = JSON.parse(line.slice(MARKER.length)) as HarnessReport;
  if (typeof report.importStart !== 'number') throw new Error(`malformed result: ${line}`);
  return report;
};

export interface VariantResult {
  readonly bundleBytes: number;
  /** Module import, from its start to the handler being ready. */
  readonly load: Measured;
  /** The first invocation, from the handler's call to its result. */
  readonly firstInvoke: Measured;
  /** Process start (timeOrigin) to the first result, as the child saw it. */
  readonly ready: Measured;
  /** Spawn to exit, as the parent saw it: the figure the goal compares. */
  readonly total: Measured;
}

export interface HandlerResult {
  readonly handler: HandlerName;
  readonly ours: VariantResult;
  readonly default: VariantResult;
  /** What ours is made of: bytes in the output per package group, largest first. */
  readonly composition: Share[];
  readonly zod: ZodShare;
  /**
   * The handler's SDK clients alone (created, no call), bundled as ours: the least
   * any handler using them loads. `undefined` for a handler without SDK clients.
   */
  readonly sdkClients?: {
    readonly packages: string[];
    readonly bytes: number;
    readonly load: Measured;
  };
  /** (ours − bare) / (default − bare), of the total wall time medians: the goal's figure. */
  readonly overheadRatio: number;
  /**
   * The same ratio to the first result instead of the exit (timeOrigin-based, floor:
   * the bare harness reaching its first line). Lambda freezes a process, never exits it.
   */
  readonly readyRatio: number;
  readonly goalMet: boolean;
}

export interface ColdStartResult {
  readonly node: string;
  readonly esbuild: string;
  readonly cpu: string;
  readonly target: string;
  readonly runsPerVariant: number;
  /** 1-minute load average when the runs started and ended: other work skews every figure. */
  readonly loadAverage: { readonly before: number; readonly after: number };
  readonly defaultExternals: string[];
  /** A Node process that runs the harness and does nothing: the floor. */
  readonly bare: Measured;
  /** The bare harness's first line, since its timeOrigin: the floor of `ready`. */
  readonly bareReady: Measured;
  readonly handlers: HandlerResult[];
  /** The same schema bundled with our options under each zod import style, in bytes. */
  readonly zodImportStyles: {
    readonly namespace: number;
    readonly named: number;
    readonly mini: number;
  };
}

interface Run {
  readonly wall: number;
  readonly report: HarnessReport;
}

/** One fresh Node process running the harness; rejects on any failure, with its output. */
const runChild = (args: string[], env: Record<string, string>): Promise<Run & { stdout: string }> =>
  new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [HARNESS, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let wall: number | undefined;
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.on('exit', () => {
      wall = performance.now() - started;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const fail = (why: string) =>
        reject(
          new Error(
            `${why}\n--- stdout ---\n${stdout.slice(-3000)}\n--- stderr ---\n${stderr.slice(-3000)}`,
          ),
        );
      if (code !== 0 || wall === undefined) return fail(`harness exited with ${code ?? signal}`);
      try {
        resolve({ wall, report: parseHarnessOutput(stdout), stdout });
      } catch (error) {
        fail((error as Error).message);
      }
    });
  });

/** Why a run did not take the handler's successful path, or `undefined` if it did. */
export const runFailure = (
  spec: HandlerSpec,
  report: HarnessReport,
  operations: readonly string[],
): string | undefined => {
  if (report.error !== undefined) return `the handler threw: ${report.error}`;
  const failure = spec.failureOf(report.result);
  if (failure !== undefined) return failure;
  const expected = spec.expectedOperations.join(', ');
  const seen = operations.join(', ');
  return expected === seen ? undefined : `expected the calls [${expected}], saw [${seen}]`;
};

interface Samples {
  wall: number[];
  load: number[];
  firstInvoke: number[];
  ready: number[];
}

const emptySamples = (): Samples => ({ wall: [], load: [], firstInvoke: [], ready: [] });

const variantResult = (bytes: number, s: Samples): VariantResult => ({
  bundleBytes: bytes,
  load: measure(s.load, 'ms'),
  firstInvoke: measure(s.firstInvoke, 'ms'),
  ready: measure(s.ready, 'ms'),
  total: measure(s.wall, 'ms'),
});

export const overheadRatio = (ours: Measured, dflt: Measured, bare: Measured): number =>
  (ours.median - bare.median) / (dflt.median - bare.median);

export const run = async (options: {
  quick: boolean;
  log: (line: string) => void;
}): Promise<ColdStartResult> => {
  const { log } = options;
  const runs = options.quick ? 3 : 20;
  const workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'customer-pipeline-cold-start-'));
  const stub = await startStub();
  try {
    const externals = defaultExternals(cdkContext());
    const deps = directDependencies();
    log(`cold start: bundling ${HANDLERS.length} handlers two ways (esbuild ${esbuild.version})`);
    const built = new Map<
      string,
      { file: string; bytes: number; inputs: Record<string, number> }
    >();
    for (const spec of HANDLERS) {
      const entry = path.join(REPO_ROOT, 'lambda', spec.name, 'handler.ts');
      for (const variant of VARIANTS) {
        const outdir = path.join(workdir, spec.name, variant);
        built.set(
          `${spec.name}/${variant}`,
          await bundle(buildOptions(variant, entry, outdir, externals)),
        );
      }
      fs.writeFileSync(path.join(workdir, spec.name, 'event.json'), JSON.stringify(spec.event()));
    }
    const styles = await zodImportStyles();
    const clientBundles = new Map<string, { packages: string[]; file: string; bytes: number }>();
    for (const spec of HANDLERS) {
      const packages = sdkClientsIn(built.get(`${spec.name}/ours`)?.inputs ?? {});
      if (packages.length === 0) continue;
      const { entryPoints: _entry, ...options } = buildOptions(
        'ours',
        '',
        path.join(workdir, spec.name, 'sdk-clients'),
        [],
      );
      const { file, bytes } = await bundle({
        ...options,
        stdin: { contents: sdkClientsModule(packages), resolveDir: REPO_ROOT, loader: 'ts' },
      });
      clientBundles.set(spec.name, { packages, file, bytes });
    }

    // The default bundle requires the SDK as Lambda's runtime provides it: through
    // NODE_PATH (Lambda's includes /var/runtime/node_modules), here this repo's.
    const nodePath = path.join(REPO_ROOT, 'node_modules');
    const bareEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
    const invoke = async (spec: HandlerSpec, variant: Variant): Promise<Run> => {
      const file = built.get(`${spec.name}/${variant}`)?.file ?? '';
      const env = childEnvironment(
        spec,
        stub.url,
        variant === 'default' ? { NODE_PATH: nodePath } : {},
      );
      stub.takeOperations();
      const outcome = await runChild([file, path.join(workdir, spec.name, 'event.json')], env);
      const failure = runFailure(spec, outcome.report, stub.takeOperations());
      if (failure !== undefined) {
        throw new Error(
          `${spec.name} (${variant}) did not succeed: ${failure}\n${outcome.stdout.slice(-2000)}`,
        );
      }
      return outcome;
    };

    // One untimed round first, so every run finds the files in the page cache.
    log('cold start: warm-up round (not counted)');
    await runChild(['--bare'], bareEnv);
    const emptyEvent = path.join(workdir, 'empty-event.json');
    fs.writeFileSync(emptyEvent, '{}');
    for (const spec of HANDLERS) {
      for (const variant of VARIANTS) await invoke(spec, variant);
      const clients = clientBundles.get(spec.name);
      if (clients !== undefined) {
        await runChild([clients.file, emptyEvent], childEnvironment(spec, stub.url, {}));
      }
    }

    const loadBefore = os.loadavg()[0] ?? 0;
    const bare: number[] = [];
    const bareReady: number[] = [];
    const samples = new Map<string, Samples>();
    for (let i = 0; i < runs; i++) {
      const floor = await runChild(['--bare'], bareEnv);
      bare.push(floor.wall);
      bareReady.push(floor.report.importStart);
      // Alternate which variant goes first, so neither always follows the other.
      const order = i % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
      for (const spec of HANDLERS) {
        for (const variant of order) {
          const { wall, report } = await invoke(spec, variant);
          const key = `${spec.name}/${variant}`;
          const s = samples.get(key) ?? emptySamples();
          s.wall.push(wall);
          s.load.push((report.loaded ?? 0) - report.importStart);
          s.firstInvoke.push((report.invoked ?? 0) - (report.loaded ?? 0));
          s.ready.push(report.invoked ?? 0);
          samples.set(key, s);
        }
        const clients = clientBundles.get(spec.name);
        if (clients !== undefined) {
          // The handler's own environment (region, credentials), as ours gets it.
          const { report } = await runChild(
            [clients.file, emptyEvent],
            childEnvironment(spec, stub.url, {}),
          );
          const key = `${spec.name}/sdk-clients`;
          const s = samples.get(key) ?? emptySamples();
          s.load.push((report.loaded ?? 0) - report.importStart);
          samples.set(key, s);
        }
      }
      log(`cold start: round ${i + 1}/${runs} done`);
    }

    const bareMeasured = measure(bare, 'ms');
    const bareReadyMeasured = measure(bareReady, 'ms');
    const handlers = HANDLERS.map((spec): HandlerResult => {
      const result = (variant: Variant) =>
        variantResult(
          built.get(`${spec.name}/${variant}`)?.bytes ?? 0,
          samples.get(`${spec.name}/${variant}`) ?? emptySamples(),
        );
      const ours = result('ours');
      const dflt = result('default');
      const inputs = built.get(`${spec.name}/ours`)?.inputs ?? {};
      const r = overheadRatio(ours.total, dflt.total, bareMeasured);
      const clients = clientBundles.get(spec.name);
      return {
        handler: spec.name,
        ours,
        default: dflt,
        composition: composition(inputs, deps),
        zod: zodShare(inputs),
        ...(clients === undefined
          ? {}
          : {
              sdkClients: {
                packages: clients.packages,
                bytes: clients.bytes,
                load: measure(samples.get(`${spec.name}/sdk-clients`)?.load ?? [], 'ms'),
              },
            }),
        overheadRatio: r,
        readyRatio: overheadRatio(ours.ready, dflt.ready, bareReadyMeasured),
        goalMet: r <= GOAL_RATIO,
      };
    });
    return {
      node: process.version,
      esbuild: esbuild.version,
      cpu: `${os.cpus()[0]?.model ?? 'unknown'} × ${os.cpus().length}`,
      target: BUNDLE_TARGET,
      runsPerVariant: runs,
      loadAverage: { before: loadBefore, after: os.loadavg()[0] ?? 0 },
      defaultExternals: externals,
      bare: bareMeasured,
      bareReady: bareReadyMeasured,
      handlers,
      zodImportStyles: styles,
    };
  } finally {
    await stub.close();
    fs.rmSync(workdir, { recursive: true, force: true });
  }
};

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

export const summaryRows = (
  result: ColdStartResult,
): { metric: string; value: string; goal: string; met: boolean | null }[] => [
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
