import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { type LocalCloudOptions, type RunningLocalCloud, startLocalCloud } from './cloud';
import { IAM_MODES, type IamMode } from './iam/enforcer';
import { DEFAULT_STATE_FILE } from './model';
import { hideSdkNodeVersionWarning } from './runtime/quiet-warnings.cjs';

/** What an app fixes for its own start command; the command line can override the rest. */
export type AppProfile = Pick<
  LocalCloudOptions,
  'appDir' | 'stackName' | 'context' | 'sidecars' | 'nameOf' | 'labelOf' | 'watch'
> & {
  /** How the usage names the command, e.g. `npm start --`. */
  readonly command: string;
  /** One line on what it runs. */
  readonly description: string;
  /**
   * The stack to run for the synth's context (the profile's and `--context`'s), for an app
   * whose stack name follows it (`--context stage=prod`). @default - `stackName`
   */
  readonly stackFor?: (context: Readonly<Record<string, string>>) => string;
};

const GENERIC: AppProfile = {
  command: 'cdk-local-cloud',
  description: "Runs a CDK app's synthesized stack on a local AWS emulator (moto).",
};

const usage = (profile: AppProfile): string => `usage: ${profile.command} [options]

${profile.description}

  --app-dir <d>       the CDK app (its cdk.json and node_modules; default: this directory)
  --stack <name>      the stack to run (default: ${profile.stackName ?? "the assembly's only stack"})
  --assembly <d>      run this already synthesized cloud assembly instead of synthesizing
  --context <k=v>     pass -c k=v to the synth (repeatable; with --assembly, only with --watch)
  --time-scale <f>    shrink visibility timeouts, batching windows and retry delays
                      by this factor (default 1)
  --record-age-scale <f>
                      shrink streams' maximum record age by this factor (default 1: a
                      shrunk age gives up records a busy local cloud is slow to publish)
  --port <n>          port of the HTTP API on 127.0.0.1 (default: a free port)
  --concurrency <n>   invocations each function runs at once (default 4)
  --state-file <f>    where to write the running cloud's state (default ${DEFAULT_STATE_FILE},
                      or LOCAL_CLOUD_STATE)
  --work-dir <d>      synthesized assembly and function logs (default .local-cloud)
  --faults <rate>     fail this share (0 to 1) of every function's AWS calls, each with a
                      fault that AWS could answer it with (see the README's Fault injection)
  --seed <n>          seed the random faults, to replay a run (default: a random one, printed)
  --iam <mode>        evaluate every function's AWS calls against its role in the template:
                      enforce (deny as AWS would; the default), report (allow, list what
                      would be denied), off
  --watch             rebuild a function when a source file it is built from is saved, and
                      run the new code from its next invocation${profile.watch === undefined ? ' (not available for this app: its profile says nothing of its sources)' : ''}
  -h, --help          this text

Uses AWS_ENDPOINT_URL as the emulator when set; otherwise starts moto (python3, or
LOCAL_CLOUD_PYTHON), which stops when this command stops.`;

/** A command-line mistake: answered with the usage, not a stack trace. */
class UsageError extends Error {}

const iamMode = (value: string | undefined): IamMode => {
  if (value === undefined) return 'enforce';
  if (!(IAM_MODES as readonly string[]).includes(value)) {
    throw new UsageError(`--iam must be one of ${IAM_MODES.join(', ')}, got "${value}"`);
  }
  return value as IamMode;
};

const positiveNumber = (name: string, value: string | undefined, fallback: number): number => {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) {
    throw new UsageError(`--${name} must be a positive number, got "${value}"`);
  }
  return parsed;
};

const rate = (value: string | undefined): number | undefined => {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (value.trim() === '' || !(parsed >= 0 && parsed <= 1)) {
    throw new UsageError(`--faults must be a rate from 0 to 1, got "${value}"`);
  }
  return parsed;
};

const seed = (value: string | undefined): number | undefined => {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  // The PRNG's state is 32 bits: a larger seed would replay another's run.
  if (!/^\d+$/.test(value) || parsed > 0xffffffff) {
    throw new UsageError(`--seed must be a whole number from 0 to 4294967295, got "${value}"`);
  }
  return parsed;
};

/** `['a=1', 'b=x=y']` → `{ a: '1', b: 'x=y' }`, as `cdk -c` reads them. */
const parseContext = (pairs: readonly string[]): Record<string, string> => {
  const context: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--context must be key=value, got "${pair}"`);
    context[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return context;
};

const parse = (argv: readonly string[]) => {
  try {
    return parseArgs({
      args: [...argv],
      options: {
        'app-dir': { type: 'string' },
        stack: { type: 'string' },
        'time-scale': { type: 'string' },
        'record-age-scale': { type: 'string' },
        port: { type: 'string' },
        concurrency: { type: 'string' },
        'state-file': { type: 'string' },
        'work-dir': { type: 'string' },
        assembly: { type: 'string' },
        context: { type: 'string', multiple: true },
        faults: { type: 'string' },
        seed: { type: 'string' },
        iam: { type: 'string' },
        watch: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
};

export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Resolves when the user asks to stop (Ctrl-C, SIGTERM, a closed stdout). */
  readonly stopRequested: Promise<void>;
}

/**
 * The local cloud as a command: starts it, prints what it runs, waits to be asked to
 * stop, stops it. Returns the exit code: 0, 1 when it could not start, 2 for a usage error.
 */
export const runLocalCloudCli = async (
  argv: readonly string[],
  io: CliIo,
  profile: AppProfile = GENERIC,
): Promise<number> => {
  let cloud: RunningLocalCloud;
  let workDir: string;
  try {
    const values = parse(argv);
    if (values.help) {
      io.out(usage(profile));
      return 0;
    }
    const cliContext = parseContext(values.context ?? []);
    // With --watch, a saved stack source is synthesized again: the context is for those syntheses,
    // which must match how the assembly was made, or every change would look like another stage.
    if (values.assembly !== undefined && !values.watch && Object.keys(cliContext).length > 0) {
      throw new UsageError(
        '--context applies to a synth: it cannot change an --assembly (with --watch, it applies to the re-syntheses)',
      );
    }
    if (values.watch && profile.watch === undefined) {
      throw new UsageError(
        '--watch is not available for this app: the local cloud runs its assembly, and nothing tells it which sources its functions are built from (an app profile with `watch` does)',
      );
    }
    workDir = values['work-dir'] ?? '.local-cloud';
    const context = { ...profile.context, ...cliContext };
    const { stackFor, command: _command, description: _description, ...options } = profile;
    cloud = await startLocalCloud({
      ...options,
      watch: values.watch ? profile.watch : undefined,
      endpoint: io.env.AWS_ENDPOINT_URL || undefined,
      appDir: values['app-dir'] === undefined ? profile.appDir : path.resolve(values['app-dir']),
      stackName: values.stack ?? stackFor?.(context) ?? profile.stackName,
      context,
      timeScale: positiveNumber('time-scale', values['time-scale'], 1),
      recordAgeScale: positiveNumber('record-age-scale', values['record-age-scale'], 1),
      apiPort: values.port === undefined ? 0 : positiveNumber('port', values.port, 0),
      concurrency: positiveNumber('concurrency', values.concurrency, 4),
      stateFile: path.resolve(
        values['state-file'] ?? io.env.LOCAL_CLOUD_STATE ?? DEFAULT_STATE_FILE,
      ),
      workDir,
      assembly: values.assembly === undefined ? undefined : path.resolve(values.assembly),
      faultRate: rate(values.faults),
      faultSeed: seed(values.seed),
      iam: iamMode(values.iam),
      print: io.out,
    });
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`${error.message}\n\n${usage(profile)}`);
      return 2;
    }
    io.err(
      `the local cloud could not start: ${error instanceof Error ? error.message : String(error)}`,
    );
    return 1;
  }
  io.out(`function logs: ${path.join(workDir, 'logs')}/`);
  const seconds = (cloud.readyInMs / 1000).toFixed(1);
  io.out(
    `ready in ${seconds} s (assembly ${cloud.assembly}): ${cloud.state.apiUrl || '(no HTTP API)'} (time scale ${cloud.state.timeScale}). Ctrl-C to stop.`,
  );
  await io.stopRequested;
  io.out('stopping …');
  await cloud.stop();
  io.out('stopped.');
  return 0;
};

/** Signals closer together than this are one request: a wrapper relays the terminal's. */
const REPEATED_SIGNAL_MS = 1000;

/**
 * Runs the CLI in this process: the first Ctrl-C or SIGTERM stops the cloud in order
 * (pollers, functions, then the emulator); a second one exits at once (the emulator
 * goes with this process). A closed stdout (`| head`) stops it too.
 */
export const runLocalCloudCliProcess = (profile?: AppProfile): void => {
  hideSdkNodeVersionWarning();
  let requestedAt: number | undefined;
  let requestStop = () => {};
  const stopRequested = new Promise<void>((resolve) => {
    requestStop = resolve;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    // One Ctrl-C can arrive twice: from the terminal, and relayed by a wrapper (npm, tsx).
    if (requestedAt !== undefined && Date.now() - requestedAt > REPEATED_SIGNAL_MS) {
      process.stderr.write(`${signal} again: exiting now\n`);
      process.exit(130);
    }
    requestedAt ??= Date.now();
    requestStop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  let stdoutClosed = false;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    stdoutClosed = true;
    requestedAt ??= Date.now();
    requestStop();
  });
  const write = (stream: NodeJS.WriteStream) => (line: string) => {
    if (!stdoutClosed) stream.write(`${line}\n`);
  };
  void runLocalCloudCli(
    process.argv.slice(2),
    { out: write(process.stdout), err: write(process.stderr), env: process.env, stopRequested },
    profile,
  ).then((code) => process.exit(code));
};

if (require.main === module) runLocalCloudCliProcess();
