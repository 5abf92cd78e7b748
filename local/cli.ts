import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { startLocalCloud } from './cloud';
import { hideSdkNodeVersionWarning } from './command';
import { DEFAULT_STATE_FILE } from './model';
import { MotoNotInstalled } from './moto';

const USAGE = `usage: npm start -- [options]

Runs the synthesized pipeline (stage dev) on a local AWS emulator.

  --time-scale <f>    shrink visibility timeouts, batching windows and retry delays
                      by this factor (default 1; the end-to-end tests use 0.02)
  --port <n>          port of the HTTP API on 127.0.0.1 (default: a free port)
  --concurrency <n>   invocations each function runs at once (default 4)
  --state-file <f>    where to write the running cloud's state (default ${DEFAULT_STATE_FILE},
                      or LOCAL_CLOUD_STATE); npm run dlq and npm run demo read it
  --work-dir <d>      synthesized assembly and function logs (default .local-cloud)
  --assembly <d>      run this already synthesized cloud assembly instead of synthesizing
  --context <k=v>     pass -c k=v to the synth (repeatable), e.g. streamMaxRecordAgeSeconds=60

Uses AWS_ENDPOINT_URL as the emulator when set; otherwise starts moto_server.`;

hideSdkNodeVersionWarning();

const positiveNumber = (name: string, value: string | undefined, fallback: number): number => {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) {
    throw new Error(`--${name} must be a positive number, got "${value}"`);
  }
  return parsed;
};

/** `['a=1', 'b=x=y']` → `{ a: '1', b: 'x=y' }`, as `cdk -c` reads them. */
const parseContext = (pairs: readonly string[]): Record<string, string> => {
  const context: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error(`--context must be key=value, got "${pair}"`);
    context[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return context;
};

const main = async (): Promise<number> => {
  const { values } = parseArgs({
    options: {
      'time-scale': { type: 'string' },
      port: { type: 'string' },
      concurrency: { type: 'string' },
      'state-file': { type: 'string' },
      'work-dir': { type: 'string' },
      assembly: { type: 'string' },
      context: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const context = parseContext(values.context ?? []);
  if (values.assembly !== undefined && Object.keys(context).length > 0) {
    throw new Error('--context applies to a synth: it cannot change an --assembly');
  }
  const print = (line: string) => console.log(line);
  const workDir = values['work-dir'] ?? '.local-cloud';
  const cloud = await startLocalCloud({
    endpoint: process.env.AWS_ENDPOINT_URL || undefined,
    stage: 'dev',
    timeScale: positiveNumber('time-scale', values['time-scale'], 1),
    apiPort: values.port === undefined ? 0 : positiveNumber('port', values.port, 0),
    concurrency: positiveNumber('concurrency', values.concurrency, 4),
    stateFile: path.resolve(
      values['state-file'] ?? process.env.LOCAL_CLOUD_STATE ?? DEFAULT_STATE_FILE,
    ),
    workDir,
    assembly: values.assembly === undefined ? undefined : path.resolve(values.assembly),
    context,
    print,
  });
  print(`function logs: ${path.join(workDir, 'logs')}/`);
  print(`ready: ${cloud.state.apiUrl} (time scale ${cloud.state.timeScale}). Ctrl-C to stop.`);

  await new Promise<void>((resolve) => {
    const shutdown = () => resolve();
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  });
  print('stopping …');
  await cloud.stop();
  print('stopped.');
  return 0;
};

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof MotoNotInstalled) {
      console.error(error.message);
    } else {
      console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    }
    process.exit(1);
  },
);
