import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import type { InvokeOutcome, LambdaInvoker } from '../model';

const WORKER_SCRIPT = path.join(__dirname, 'function-worker.mjs');

/** tsx's own preload and loader, as `--require`/`--import` values or `--flag=value`. */
const TSX_FILE = /[\\/]tsx[\\/]dist[\\/]/;
const PRELOADS = new Set(['--require', '-r', '--import', '--loader', '--experimental-loader']);

/**
 * The Node.js options a function's runtime starts with: the host's, without the TypeScript
 * loader it may run under (tsx). A function's code is JavaScript, as on Lambda, and a worker
 * that inherits the loader spends its cold start on hooks it never uses.
 */
export const runtimeExecArgv = (hostExecArgv: readonly string[]): string[] => {
  const kept: string[] = [];
  for (let i = 0; i < hostExecArgv.length; i += 1) {
    const arg = hostExecArgv[i] ?? '';
    const [flag = '', inline] = arg.split(/=(.*)/s, 2);
    if (PRELOADS.has(flag)) {
      const value = inline ?? hostExecArgv[i + 1] ?? '';
      if (inline === undefined) i += 1;
      if (TSX_FILE.test(value)) continue;
      kept.push(...(inline === undefined ? [flag, value] : [arg]));
      continue;
    }
    kept.push(arg);
  }
  return kept;
};

/** An ES module's static or literal dynamic import of what Lambda's Node.js runtime provides. */
const RUNTIME_MODULE_IMPORT =
  /(?:\bfrom\s*|\bimport\s*\(?\s*)["'](?:@aws-sdk|@smithy|@aws-crypto)\//;
/** Past this, the code is not read through: the hook is registered, as it costs only time. */
const SCAN_LIMIT = { files: 2_000, bytes: 64 * 1024 * 1024 };

/**
 * Whether a function's code imports (as ES modules) any of what Lambda's Node.js runtime
 * provides, so its workers need the resolve hook that finds it in the app's node_modules.
 * A bundle that includes the SDK does not: its workers then start without the hook's
 * thread and without a round trip to it for each of their imports. CommonJS `require` is
 * served without the hook, and the worker registers the hook after all if an import the
 * scan did not see (an `import()` of a variable) asks for a runtime module.
 */
export const importsRuntimeModules = (codeDirectory: string): boolean => {
  let files = 0;
  let bytes = 0;
  const pending = [codeDirectory];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        pending.push(file);
        continue;
      }
      if (!/\.(m?js)$/.test(entry.name)) continue;
      files += 1;
      bytes += fs.statSync(file).size;
      if (files > SCAN_LIMIT.files || bytes > SCAN_LIMIT.bytes) return true;
      if (RUNTIME_MODULE_IMPORT.test(fs.readFileSync(file, 'utf8'))) return true;
    }
  }
  return false;
};

/** One function of the template, ready to run locally. */
export interface FunctionDefinition {
  readonly logicalId: string;
  readonly functionName: string;
  readonly functionArn: string;
  /** The staged asset directory holding the bundle. */
  readonly codeDirectory: string;
  /**
   * The CDK app's directory: its node_modules stand in for what Lambda's Node.js runtime
   * provides (the AWS SDK v3) when the bundle does not include it.
   */
  readonly appDir: string;
  /** `index.handler`: module `index`, export `handler`. */
  readonly handler: string;
  readonly environment: Readonly<Record<string, string>>;
  readonly timeoutSeconds: number;
  readonly memorySize: number;
}

export interface FunctionHostOptions {
  /** Invocations that may run at once (Lambda would add environments; we add workers). */
  readonly concurrency: number;
  /** Where the function's own output (its logs) goes. */
  readonly log: Writable;
}

/** How an invocation names the function: unqualified, or through a version or an alias. */
export interface Qualifier {
  /** The version that runs: `$LATEST`, or a version's number (an alias's version). */
  readonly version: string;
  /** The ARN the caller invoked, as `context.invokedFunctionArn` gives it (`…:live` through the alias). */
  readonly invokedFunctionArn: string;
}

interface Pending extends Qualifier {
  readonly id: string;
  readonly event: unknown;
  readonly resolve: (outcome: InvokeOutcome) => void;
}

type WorkerMessage =
  | { type: 'ready' }
  | { type: 'init-error'; error: { errorType: string; errorMessage: string } }
  | {
      type: 'result';
      id: string;
      ok: boolean;
      payload?: unknown;
      error?: { errorType: string; errorMessage: string };
    };

const failure = (errorType: string, errorMessage: string): InvokeOutcome => ({
  ok: false,
  error: { errorType, errorMessage },
});

/** The file and export a Lambda `Handler` setting names, as the Node.js runtime resolves it. */
const resolveHandler = (
  directory: string,
  handler: string,
): { file: string; exportName: string } => {
  const dot = handler.lastIndexOf('.');
  const moduleName = handler.slice(0, dot);
  const exportName = handler.slice(dot + 1);
  for (const extension of ['.mjs', '.js', '.cjs']) {
    const file = path.join(directory, `${moduleName}${extension}`);
    if (fs.existsSync(file)) return { file, exportName };
  }
  throw new Error(
    `no module ${moduleName} (.mjs, .js, .cjs) in ${directory} for handler ${handler}`,
  );
};

/**
 * Runs a function's bundle in worker threads, each with the function's own
 * environment, one invocation per worker at a time. A worker is started on first
 * use (a cold start) and kept warm; one that overruns the function's timeout is
 * terminated, as Lambda ends a timed-out sandbox.
 */
export class FunctionHost implements LambdaInvoker {
  private readonly idle: Worker[] = [];
  private readonly busy = new Set<Worker>();
  private readonly queue: Pending[] = [];
  private entry: { file: string; exportName: string };
  /** What new invocations run: the definition given, until `update`. */
  private current: FunctionDefinition;
  /** Bumped by `update`: a worker of an older generation is not kept warm. */
  private generation = 0;
  private readonly generationOf = new WeakMap<Worker, number>();
  /** The version a worker runs as: Lambda gives each version its own sandboxes. */
  private readonly versionOf = new WeakMap<Worker, string>();
  private closed = false;
  /** Whether its workers register the runtime modules' resolve hook: read at the first cold start of each code. */
  private runtimeModuleHook: boolean | undefined;

  constructor(
    definition: FunctionDefinition,
    private readonly options: FunctionHostOptions,
  ) {
    this.current = definition;
    this.entry = resolveHandler(definition.codeDirectory, definition.handler);
  }

  /** What the function runs now. */
  get definition(): FunctionDefinition {
    return this.current;
  }

  /**
   * Runs the function as `changes` say from the next invocation on, as Lambda does after an
   * update of the function's code or configuration: an invocation already running finishes
   * as it began, and no worker of the old definition serves again. Throws, keeping the old
   * definition, if the new code lacks the handler's module.
   */
  update(
    changes: Partial<
      Pick<
        FunctionDefinition,
        'codeDirectory' | 'handler' | 'environment' | 'timeoutSeconds' | 'memorySize'
      >
    >,
  ): void {
    const next = { ...this.current, ...changes };
    this.entry = resolveHandler(next.codeDirectory, next.handler);
    if (next.codeDirectory !== this.current.codeDirectory) this.runtimeModuleHook = undefined;
    this.current = next;
    this.generation += 1;
    for (const worker of this.idle.splice(0)) void worker.terminate();
  }

  /** `update({ codeDirectory })`: new code, the rest as it was. */
  replaceCode(codeDirectory: string): void {
    this.update({ codeDirectory });
  }

  /**
   * Runs the current code with `event`. Through a version or an alias (`qualifier`), the
   * invocation sees that version in `context.functionVersion` and `AWS_LAMBDA_FUNCTION_VERSION`,
   * and the ARN it was invoked by; locally every version runs the current code.
   */
  invoke(event: unknown, qualifier?: Qualifier): Promise<InvokeOutcome> {
    if (this.closed) return Promise.resolve(failure('Local.Closed', 'the local cloud is stopping'));
    const { version, invokedFunctionArn } = qualifier ?? {
      version: '$LATEST',
      invokedFunctionArn: this.current.functionArn,
    };
    return new Promise((resolve) => {
      this.queue.push({ id: randomUUID(), event, resolve, version, invokedFunctionArn });
      this.dispatch();
    });
  }

  /** This function invoked through a version or an alias, as an event source or route sees it. */
  qualified(qualifier: () => Qualifier): LambdaInvoker & { readonly host: FunctionHost } {
    return { host: this, invoke: (event) => this.invoke(event, qualifier()) };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const pending of this.queue.splice(0)) {
      pending.resolve(failure('Local.Closed', 'the local cloud is stopping'));
    }
    await Promise.all([...this.idle, ...this.busy].map((worker) => worker.terminate()));
    this.idle.length = 0;
    this.busy.clear();
  }

  private dispatch(): void {
    for (let pending = this.queue[0]; pending !== undefined; pending = this.queue[0]) {
      const { version } = pending;
      const warm = this.idle.findLastIndex((worker) => this.versionOf.get(worker) === version);
      if (warm >= 0) {
        const [worker] = this.idle.splice(warm, 1);
        this.queue.shift();
        if (worker) this.run(worker, pending);
        continue;
      }
      if (this.busy.size < this.options.concurrency) {
        // The function's concurrency bounds its workers: a warm one of another version gives way.
        if (this.busy.size + this.idle.length >= this.options.concurrency) {
          void this.idle.shift()?.terminate();
        }
        this.queue.shift();
        void this.coldStart(pending);
        continue;
      }
      return;
    }
  }

  private async coldStart(pending: Pending): Promise<void> {
    this.runtimeModuleHook ??= importsRuntimeModules(this.current.codeDirectory);
    const worker = new Worker(WORKER_SCRIPT, {
      execArgv: runtimeExecArgv(process.execArgv),
      workerData: {
        ...this.entry,
        runtimeModuleHook: this.runtimeModuleHook,
        functionName: this.definition.functionName,
        functionArn: this.definition.functionArn,
        functionVersion: pending.version,
        memorySize: this.definition.memorySize,
        logGroupName: `/aws/lambda/${this.definition.functionName}`,
        appDir: this.definition.appDir,
      },
      env: { ...this.definition.environment, AWS_LAMBDA_FUNCTION_VERSION: pending.version },
      stdout: true,
      stderr: true,
    });
    this.busy.add(worker);
    this.generationOf.set(worker, this.generation);
    this.versionOf.set(worker, pending.version);
    worker.stdout.pipe(this.options.log, { end: false });
    worker.stderr.pipe(this.options.log, { end: false });
    // A runtime can also die between invocations (an error thrown after the handler
    // returned): it must leave the pool, or the next invocation waits for its timeout.
    worker.on('error', (error) => {
      this.options.log.write(
        `runtime error outside an invocation: ${error.stack ?? error.message}\n`,
      );
    });
    worker.once('exit', () => {
      const index = this.idle.indexOf(worker);
      if (index >= 0) this.idle.splice(index, 1);
    });
    // Lambda gives the init phase 10 seconds; a worker that never gets ready fails the invocation.
    const init = await new Promise<WorkerMessage>((resolve) => {
      const fail = (errorType: string, errorMessage: string) =>
        resolve({ type: 'init-error', error: { errorType, errorMessage } });
      const timer = setTimeout(() => fail('InitTimeout', 'init did not finish in 10 s'), 10_000);
      worker.once('message', (message: WorkerMessage) => {
        clearTimeout(timer);
        resolve(message);
      });
      worker.once('error', (error) => {
        clearTimeout(timer);
        fail(error.name, error.message);
      });
      worker.once('exit', (code) => {
        clearTimeout(timer);
        fail('ExitError', `the runtime exited with code ${code} during init`);
      });
    });
    if (init.type !== 'ready') {
      this.retire(worker);
      const error =
        init.type === 'init-error'
          ? init.error
          : { errorType: 'Runtime.Unknown', errorMessage: '' };
      pending.resolve(failure(`Runtime.${error.errorType}`, `init failed: ${error.errorMessage}`));
      this.dispatch();
      return;
    }
    this.run(worker, pending);
  }

  private run(worker: Worker, pending: Pending): void {
    this.busy.add(worker);
    const timeoutMs = this.definition.timeoutSeconds * 1000;
    const finish = (outcome: InvokeOutcome, keepWorker: boolean) => {
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      if (keepWorker && !this.closed && this.generationOf.get(worker) === this.generation) {
        this.busy.delete(worker);
        this.idle.push(worker);
      } else {
        this.retire(worker);
      }
      pending.resolve(outcome);
      this.dispatch();
    };
    const onMessage = (message: WorkerMessage) => {
      if (message.type !== 'result' || message.id !== pending.id) return;
      finish(
        message.ok
          ? { ok: true, payload: message.payload ?? null }
          : failure(message.error?.errorType ?? 'Error', message.error?.errorMessage ?? ''),
        true,
      );
    };
    const onError = (error: Error) => finish(failure('Runtime.ExitError', error.message), false);
    const onExit = (code: number) =>
      finish(failure('Runtime.ExitError', `the runtime exited with code ${code}`), false);
    const timer = setTimeout(
      () =>
        finish(
          failure(
            'Sandbox.Timedout',
            `Task timed out after ${this.definition.timeoutSeconds} seconds`,
          ),
          false,
        ),
      timeoutMs,
    );
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    worker.postMessage({
      id: pending.id,
      event: pending.event,
      deadline: Date.now() + timeoutMs,
      invokedFunctionArn: pending.invokedFunctionArn,
    });
  }

  private retire(worker: Worker): void {
    this.busy.delete(worker);
    const index = this.idle.indexOf(worker);
    if (index >= 0) this.idle.splice(index, 1);
    void worker.terminate();
  }
}
