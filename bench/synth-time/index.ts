import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Section, SectionContext } from '../section';
import { measure, ratio } from '../stats';
import { render, summaryRows } from './report';
import { type AppPhases, GOAL_RATIO, type SynthTimeResult } from './result';

const REPO_ROOT = path.join(__dirname, '..', '..');
const CDK_BIN = path.join(REPO_ROOT, 'node_modules', '.bin', 'cdk');
const REFERENCE_FIXTURE = path.join(__dirname, 'reference-app');
const RUN_TIMEOUT_MS = 300_000;
/**
 * aws-cdk-lib writes its performance counters only for a synth slower than this
 * context value (10 s a stack by default); 0 makes every synth write them. It changes
 * nothing else: the file is what the CLI would attach to telemetry, which is off.
 */
const COUNTERS_CONTEXT = { '@aws-cdk/core.slowSynthThreshold': 0 } as const;

/** The performance counters aws-cdk-lib writes to CDK_PERF_COUNTERS_FILE, in ms. */
export const COUNTERS = {
  load: 'phase:Load',
  construction: 'phase:Construction',
  synthesis: 'phase:Synthesis',
  /** Summed over every `bundle:<source>` counter: NodejsFunction's, and PipelineFunction's. */
  bundling: 'bundle:',
  validation: 'validateTemplates',
  cfnValidation: 'CloudFormationValidate.validate',
} as const;
type CounterName = keyof typeof COUNTERS;

export interface TimedLine {
  /** When the line arrived, in ms on the parent's clock. */
  readonly at: number;
  readonly text: string;
}

export interface BundlingSpan {
  /** The function's construct path, e.g. `CustomerPipeline-dev/Api/Function`. */
  readonly asset: string;
  /** From CDK's "Bundling asset" line to esbuild's "Done": starting esbuild (through npx for NodejsFunction), the build. */
  readonly wallMs: number;
  /** The build alone, as esbuild reports it. */
  readonly esbuildMs: number;
}

/** The assets CDK bundled in one synth, by construct path, from its "Bundling asset" lines. */
export const bundledAssets = (lines: readonly TimedLine[]): string[] =>
  lines.flatMap(({ text }) => /Bundling asset (.+?)\/Code\/Stage\.\.\./.exec(text)?.[1] ?? []);

/**
 * Each esbuild run, from the timed stderr of one synth: from the "Bundling asset"
 * line of the function that started it to esbuild's "Done". NodejsFunction runs
 * esbuild once per function; PipelineFunction once for all of them.
 */
export const bundlingSpans = (lines: readonly TimedLine[]): BundlingSpan[] => {
  const spans: BundlingSpan[] = [];
  let current: { asset: string; at: number } | undefined;
  for (const { at, text } of lines) {
    const start = /Bundling asset (.+?)\/Code\/Stage\.\.\./.exec(text);
    if (start?.[1] !== undefined) {
      current = { asset: start[1], at };
      continue;
    }
    const done = /Done in (\d+(?:\.\d+)?)(ms|s)\b/.exec(text);
    if (done !== undefined && done !== null && current !== undefined) {
      const value = Number(done[1]);
      spans.push({
        asset: current.asset,
        wallMs: at - current.at,
        esbuildMs: done[2] === 's' ? value * 1000 : value,
      });
      current = undefined;
    }
  }
  return spans;
};

/** Splits streamed output into lines stamped with the arrival time of their last chunk. */
export class LineClock {
  private pending = '';
  readonly lines: TimedLine[] = [];

  push(chunk: string, at: number): void {
    const parts = (this.pending + chunk).split(/\r?\n/);
    this.pending = parts.pop() ?? '';
    for (const text of parts) this.lines.push({ at, text });
  }

  end(at: number): TimedLine[] {
    if (this.pending !== '') this.lines.push({ at, text: this.pending });
    this.pending = '';
    return this.lines;
  }
}

export interface Outcome {
  readonly wall: number;
  readonly lines: TimedLine[];
  readonly counters: Record<string, number>;
}

/**
 * The environment of every synth: this machine's, less any AWS credentials or profile
 * (so the CLI never asks STS for a default account: no traffic off loopback), with the
 * CLI's version check, notices and telemetry off.
 */
export const synthEnvironment = (base: NodeJS.ProcessEnv): Record<string, string> => {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(base)) {
    if (value === undefined) continue;
    if (/^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|PROFILE|DEFAULT_PROFILE)$/.test(key)) {
      continue;
    }
    env[key] = value;
  }
  return {
    ...env,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/nonexistent/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
    CDK_DISABLE_CLI_TELEMETRY: 'true',
    CDK_DISABLE_VERSION_CHECK: 'true',
  };
};

const timed = (
  command: string,
  args: readonly string[],
  options: { cwd: string; env: Record<string, string>; shell?: boolean },
  countersFile: string,
): Promise<Outcome> =>
  new Promise((resolve, reject) => {
    const clock = new LineClock();
    const started = performance.now();
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let wall: number | undefined;
    const take = (chunk: Buffer) => clock.push(chunk.toString('utf8'), performance.now());
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.on('exit', () => {
      wall = performance.now() - started;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const lines = clock.end(performance.now());
      if (code !== 0 || wall === undefined) {
        const tail = lines
          .slice(-40)
          .map((line) => line.text)
          .join('\n');
        reject(new Error(`${command} ${args.join(' ')} exited with ${code ?? signal}\n${tail}`));
        return;
      }
      try {
        const { counters } = JSON.parse(fs.readFileSync(countersFile, 'utf8'));
        resolve({ wall, lines, counters });
      } catch (error) {
        reject(
          new Error(`no performance counters in ${countersFile}: ${(error as Error).message}`),
        );
      }
    });
  });

interface App {
  readonly dir: string;
  /** The app command from its cdk.json, as the CLI runs it. */
  readonly command: string;
  readonly context: Record<string, unknown>;
}

const readApp = (dir: string): App => {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(dir, 'cdk.json'), 'utf8'));
  return { dir, command: cdkJson.app, context: cdkJson.context ?? {} };
};

/** `cdk synth` as a developer runs it, into a fresh output directory. */
const cliSynth = async (app: App, scratch: string): Promise<Outcome> => {
  const outdir = fs.mkdtempSync(path.join(scratch, 'cli-'));
  try {
    return await timed(
      CDK_BIN,
      [
        'synth',
        '-q',
        '--no-notices',
        '-o',
        outdir,
        ...Object.entries(COUNTERS_CONTEXT).flatMap(([key, value]) => ['-c', `${key}=${value}`]),
      ],
      { cwd: app.dir, env: synthEnvironment(process.env) },
      path.join(outdir, 'performance-counters.json'),
    );
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
};

/**
 * The context the CLI hands the app: cdk.json's, the counters switch given to the CLI
 * too, and the keys the CLI adds by default.
 */
export const cliContext = (context: Record<string, unknown>): Record<string, unknown> => ({
  ...context,
  ...COUNTERS_CONTEXT,
  'aws:cdk:enable-path-metadata': true,
  'aws:cdk:enable-asset-metadata': true,
  'aws:cdk:version-reporting': true,
  'aws:cdk:bundling-stacks': ['**'],
});

/**
 * The app alone, run as the CLI runs it (same command, environment and context), no
 * CLI; `extraEnv` on top.
 */
const directSynth = async (
  app: App,
  scratch: string,
  extraEnv: Record<string, string> = {},
): Promise<Outcome> => {
  const outdir = fs.mkdtempSync(path.join(scratch, 'app-'));
  const countersFile = path.join(outdir, 'performance-counters.json');
  try {
    return await timed(
      app.command,
      [],
      {
        cwd: app.dir,
        shell: true,
        env: {
          ...synthEnvironment(process.env),
          CDK_OUTDIR: outdir,
          CDK_CONTEXT_JSON: JSON.stringify(cliContext(app.context)),
          CDK_PERF_COUNTERS_FILE: countersFile,
          CDK_DEFAULT_REGION: 'us-east-1',
          ...extraEnv,
        },
      },
      countersFile,
    );
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
};

/**
 * How `cdk init app --language typescript` (CLI 2.1148.1) runs the app, less its
 * `npx tsc &&` type-check, which this repository runs in `npm test` instead: the
 * reference is not charged for a step ours skips.
 */
export const REFERENCE_APP_COMMAND = 'npx tsx bin/app.ts';

/**
 * The reference: bench/synth-time/reference-app in a temp dir, with this repo's
 * node_modules linked in (no install, no network) and this repo's cdk.json feature
 * flags, run as `cdk init` runs an app.
 */
const createReferenceApp = (scratch: string): App => {
  const dir = path.join(scratch, 'reference-app');
  fs.cpSync(REFERENCE_FIXTURE, dir, { recursive: true });
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  const ours = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8'));
  const { customerPipeline: _ours, ...flags } = ours.context ?? {};
  const write = (file: string, content: unknown) =>
    fs.writeFileSync(path.join(dir, file), `${JSON.stringify(content, null, 2)}\n`);
  write('cdk.json', { app: REFERENCE_APP_COMMAND, context: flags });
  write('package.json', { name: 'reference-app', version: '0.1.0', private: true });
  // NodejsFunction looks for a lock file to find the project root.
  write('package-lock.json', {
    name: 'reference-app',
    version: '0.1.0',
    lockfileVersion: 3,
    requires: true,
    packages: { '': { name: 'reference-app', version: '0.1.0' } },
  });
  write('tsconfig.json', {
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      skipLibCheck: true,
    },
  });
  return readApp(dir);
};

/**
 * Turns off aws-cdk-lib's built-in CloudFormation validation (a WASM rules engine) and
 * leaves the app's own validation plugins, cdk-nag here, running alone.
 */
const WITHOUT_BUILTIN_VALIDATION = { CDK_VALIDATION: 'false' } as const;

/** Runs of one app: CLI synths, the app alone, and the app alone without built-in validation. */
export interface AppRuns {
  readonly cli: readonly Outcome[];
  readonly app: readonly Outcome[];
  readonly appWithoutBuiltin: readonly Outcome[];
}

const counter = (run: Outcome, key: CounterName): number =>
  key === 'bundling'
    ? Object.entries(run.counters)
        .filter(([name]) => name.startsWith(COUNTERS.bundling))
        .reduce((sum, [, ms]) => sum + ms, 0)
    : (run.counters[COUNTERS[key]] ?? 0);

/** What aws-cdk-lib measured of one run: its load, construction and synthesis phases. */
const inApp = (run: Outcome): number =>
  counter(run, 'load') + counter(run, 'construction') + counter(run, 'synthesis');

export const phasesOf = (runs: AppRuns): AppPhases => {
  const ms = (values: number[]) => measure(values, 'ms');
  const fromCli = (f: (run: Outcome) => number) => ms(runs.cli.map(f));
  const spans = runs.cli.map((run) => bundlingSpans(run.lines));
  const assets = [...new Set(spans.flatMap((list) => list.map((span) => span.asset)))];
  return {
    cli: fromCli((run) => run.wall),
    app: ms(runs.app.map((run) => run.wall)),
    outsideApp: fromCli((run) => run.wall - inApp(run)),
    launcher: ms(runs.app.map((run) => run.wall - inApp(run))),
    load: fromCli((run) => counter(run, 'load')),
    constructionWithoutBundling: fromCli(
      (run) => counter(run, 'construction') - counter(run, 'bundling'),
    ),
    bundling: fromCli((run) => counter(run, 'bundling')),
    validation: fromCli((run) => counter(run, 'validation')),
    synthesisWithoutValidation: fromCli(
      (run) => counter(run, 'synthesis') - counter(run, 'validation'),
    ),
    pluginValidation: ms(runs.appWithoutBuiltin.map((run) => counter(run, 'validation'))),
    bundledAssets: Math.max(0, ...runs.cli.map((run) => new Set(bundledAssets(run.lines)).size)),
    functions: assets.map((asset) => {
      const mine = spans.flatMap((list) => list.filter((span) => span.asset === asset));
      return {
        asset,
        wall: ms(mine.map((span) => span.wallMs)),
        esbuild: ms(mine.map((span) => span.esbuildMs)),
      };
    }),
  };
};

const run = async (options: SectionContext): Promise<SynthTimeResult> => {
  const { log } = options;
  const cliRuns = options.quick ? 1 : 5;
  const appRuns = options.quick ? 1 : 3;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'customer-pipeline-synth-time-'));
  try {
    const ours = readApp(REPO_ROOT);
    const reference = createReferenceApp(scratch);
    const apps = [
      { label: 'ours', app: ours },
      { label: 'reference', app: reference },
    ] as const;
    if (!options.quick) {
      // Fills tsx's transpile cache and the page cache, as any developer's second synth finds them.
      log('synth time: warm-up synth of each app (not counted)');
      for (const { app } of apps) await cliSynth(app, scratch);
    }
    const loadBefore = os.loadavg()[0] ?? 0;
    const runs = {
      ours: { cli: [] as Outcome[], app: [] as Outcome[], appWithoutBuiltin: [] as Outcome[] },
      reference: { cli: [] as Outcome[], app: [] as Outcome[], appWithoutBuiltin: [] as Outcome[] },
    };
    for (let i = 0; i < cliRuns; i++) {
      for (const { label, app } of apps) {
        const outcome = await cliSynth(app, scratch);
        runs[label].cli.push(outcome);
        log(`synth time: cdk synth ${label} ${i + 1}/${cliRuns}: ${outcome.wall.toFixed(0)} ms`);
      }
    }
    for (let i = 0; i < appRuns; i++) {
      for (const { label, app } of apps) {
        const plain = await directSynth(app, scratch);
        runs[label].app.push(plain);
        const bare = await directSynth(app, scratch, WITHOUT_BUILTIN_VALIDATION);
        runs[label].appWithoutBuiltin.push(bare);
        log(
          `synth time: app alone ${label} ${i + 1}/${appRuns}: ${plain.wall.toFixed(0)} ms, ` +
            `without built-in validation ${bare.wall.toFixed(0)} ms`,
        );
      }
    }
    const oursPhases = phasesOf(runs.ours);
    const referencePhases = phasesOf(runs.reference);
    const r = ratio(oursPhases.cli, referencePhases.cli);
    const cliPackage = JSON.parse(
      fs.readFileSync(path.join(REPO_ROOT, 'node_modules', 'aws-cdk', 'package.json'), 'utf8'),
    );
    return {
      cliVersion: cliPackage.version,
      node: process.version,
      cpu: `${os.cpus()[0]?.model ?? 'unknown'} × ${os.cpus().length}`,
      runs: { cli: cliRuns, app: appRuns },
      commands: { ours: ours.command, reference: reference.command },
      loadAverage: { before: loadBefore, after: os.loadavg()[0] ?? 0 },
      ours: oursPhases,
      reference: referencePhases,
      ratio: r,
      goalMet: r <= GOAL_RATIO,
    };
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
};

/**
 * `cdk synth` of this app beside a one-function `cdk init` app, and where each spends
 * its time, from aws-cdk-lib's own performance counters.
 */
export const synthTime: Section<SynthTimeResult> = { name: 'synthTime', run, render, summaryRows };
