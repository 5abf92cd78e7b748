import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { BUNDLE_TARGET } from '../../lib/bundling';
import { STUB_PNG_SIZE, smallPng } from '../avatar/images';
import type { Section, SectionContext } from '../section';
import { type Measured, measure } from '../stats';
import {
  buildOptions,
  bundle,
  cdkContext,
  composition,
  copyBundleAssets,
  defaultExternals,
  directDependencies,
  holdsPhoton,
  metricsProbeModules,
  photonProbeModule,
  REPO_ROOT,
  sdkClientsIn,
  sdkClientsModule,
  VARIANTS,
  type Variant,
  zodImportStyles,
  zodShare,
} from './build';
import { childEnvironment, HANDLERS, type HandlerSpec } from './handlers';
import { render, summaryRows } from './report';
import { type ColdStartResult, GOAL_RATIO, type HandlerResult, type VariantResult } from './result';
import { startStub } from './stub';

const HARNESS = path.join(__dirname, 'harness.mjs');
const METRICS_PROBES = ['byPowertools', 'byHand'] as const;
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

interface PhotonSamples {
  load: number[];
  firstResize: number[];
  warmResize: number[];
}

/** The photon probe's answer (build.ts's photonProbeModule), checked. */
export const photonTimes = (
  result: unknown,
): { loadMs: number; firstResizeMs: number; warmResizeMs: number } => {
  const r = (result ?? {}) as Record<string, unknown>;
  const times = [r.loadMs, r.firstResizeMs, r.warmResizeMs];
  if (!times.every((t) => typeof t === 'number' && Number.isFinite(t))) {
    throw new Error(`the photon probe answered ${JSON.stringify(result)}`);
  }
  return r as { loadMs: number; firstResizeMs: number; warmResizeMs: number };
};

const variantResult = (bytes: number, s: Samples): VariantResult => ({
  bundleBytes: bytes,
  load: measure(s.load, 'ms'),
  firstInvoke: measure(s.firstInvoke, 'ms'),
  ready: measure(s.ready, 'ms'),
  total: measure(s.wall, 'ms'),
});

export const overheadRatio = (ours: Measured, dflt: Measured, bare: Measured): number =>
  (ours.median - bare.median) / (dflt.median - bare.median);

const run = async (options: SectionContext): Promise<ColdStartResult> => {
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
        const output = await bundle(buildOptions(variant, entry, outdir, externals));
        copyBundleAssets(output);
        built.set(`${spec.name}/${variant}`, output);
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
    // Photon alone, as the avatar function loads it, to tell its share of the first invocation.
    const photonProbes = new Map<string, { file: string; event: string; wasmBytes: number }>();
    for (const spec of HANDLERS) {
      if (!holdsPhoton(built.get(`${spec.name}/ours`)?.inputs ?? {})) continue;
      const { entryPoints: _entry, ...options } = buildOptions(
        'ours',
        '',
        path.join(workdir, spec.name, 'photon'),
        [],
      );
      const probe = await bundle({
        ...options,
        stdin: { contents: photonProbeModule(), resolveDir: REPO_ROOT, loader: 'ts' },
      });
      const wasmBytes = copyBundleAssets(probe).reduce(
        (sum, name) => sum + fs.statSync(path.join(path.dirname(probe.file), name)).size,
        0,
      );
      const event = path.join(workdir, spec.name, 'photon-event.json');
      fs.writeFileSync(event, JSON.stringify({ png: smallPng().toString('base64') }));
      photonProbes.set(spec.name, { file: probe.file, event, wasmBytes });
    }

    // The business metrics written through Powertools Metrics, and by hand: its own cost.
    const metricsProbes = await Promise.all(
      METRICS_PROBES.map(async (way) => {
        const { entryPoints: _entry, ...options } = buildOptions(
          'ours',
          '',
          path.join(workdir, 'metrics', way),
          [],
        );
        const contents = metricsProbeModules()[way];
        const { file, bytes } = await bundle({
          ...options,
          stdin: { contents, resolveDir: REPO_ROOT, loader: 'ts' },
        });
        return { way, file, bytes };
      }),
    );
    const metricsSpec = HANDLERS.find((spec) => spec.name === 'welcome') ?? HANDLERS[0];
    const runMetricsProbe = async (file: string): Promise<Run> => {
      if (metricsSpec === undefined) throw new Error('no handler to take the environment of');
      const outcome = await runChild(
        [file, path.join(workdir, 'empty-event.json')],
        childEnvironment(metricsSpec, stub.url, {}),
      );
      if (outcome.report.error !== undefined || !outcome.stdout.includes('"_aws"')) {
        throw new Error(`the metrics probe wrote no EMF line: ${outcome.stdout.slice(-1000)}`);
      }
      return outcome;
    };

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
    for (const probe of metricsProbes) await runMetricsProbe(probe.file);
    for (const spec of HANDLERS) {
      for (const variant of VARIANTS) await invoke(spec, variant);
      const clients = clientBundles.get(spec.name);
      if (clients !== undefined) {
        await runChild([clients.file, emptyEvent], childEnvironment(spec, stub.url, {}));
      }
      const probe = photonProbes.get(spec.name);
      if (probe !== undefined) {
        const { report } = await runChild(
          [probe.file, probe.event],
          childEnvironment(spec, stub.url, {}),
        );
        photonTimes(report.result);
      }
    }

    const loadBefore = os.loadavg()[0] ?? 0;
    const bare: number[] = [];
    const bareReady: number[] = [];
    const samples = new Map<string, Samples>();
    /** One run's times, under `key` (a handler's variant, or a probe). */
    const record = (key: string, { wall, report }: Run): void => {
      const s = samples.get(key) ?? emptySamples();
      s.wall.push(wall);
      s.load.push((report.loaded ?? 0) - report.importStart);
      s.firstInvoke.push((report.invoked ?? 0) - (report.loaded ?? 0));
      s.ready.push(report.invoked ?? 0);
      samples.set(key, s);
    };
    const photonSamples = new Map<string, PhotonSamples>();
    for (let i = 0; i < runs; i++) {
      const floor = await runChild(['--bare'], bareEnv);
      bare.push(floor.wall);
      bareReady.push(floor.report.importStart);
      // Alternate which variant goes first, so neither always follows the other.
      const order = i % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
      for (const spec of HANDLERS) {
        for (const variant of order) {
          record(`${spec.name}/${variant}`, await invoke(spec, variant));
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
        const probe = photonProbes.get(spec.name);
        if (probe !== undefined) {
          const { report } = await runChild(
            [probe.file, probe.event],
            childEnvironment(spec, stub.url, {}),
          );
          const times = photonTimes(report.result);
          const p = photonSamples.get(spec.name) ?? { load: [], firstResize: [], warmResize: [] };
          p.load.push(times.loadMs);
          p.firstResize.push(times.firstResizeMs);
          p.warmResize.push(times.warmResizeMs);
          photonSamples.set(spec.name, p);
        }
      }
      for (const probe of i % 2 === 0 ? metricsProbes : [...metricsProbes].reverse()) {
        record(`metrics/${probe.way}`, await runMetricsProbe(probe.file));
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
      const photon = photonSamples.get(spec.name);
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
        ...(photon === undefined
          ? {}
          : {
              photon: {
                wasmBytes: photonProbes.get(spec.name)?.wasmBytes ?? 0,
                image: `${STUB_PNG_SIZE.width} × ${STUB_PNG_SIZE.height} PNG (${smallPng().length.toLocaleString('en-US')} B)`,
                load: measure(photon.load, 'ms'),
                firstResize: measure(photon.firstResize, 'ms'),
                warmResize: measure(photon.warmResize, 'ms'),
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
      metrics: Object.fromEntries(
        metricsProbes.map((probe) => [
          probe.way,
          variantResult(probe.bytes, samples.get(`metrics/${probe.way}`) ?? emptySamples()),
        ]),
      ) as ColdStartResult['metrics'],
      zodImportStyles: styles,
    };
  } finally {
    await stub.close();
    fs.rmSync(workdir, { recursive: true, force: true });
  }
};

/**
 * Each handler's cold start, ours beside NodejsFunction's default bundling, in fresh
 * Node processes against a loopback stub of AWS; and what our bundles are made of.
 */
export const coldStart: Section<ColdStartResult> = { name: 'coldStart', run, render, summaryRows };
