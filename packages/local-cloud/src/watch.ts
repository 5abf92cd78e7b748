import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CfnResource } from './model';
import type { FunctionHost } from './runtime/function-host';

/**
 * Watch mode: a saved source file rebuilds the bundles it feeds, and their functions run
 * the new code from their next invocation (FunctionHost.replaceCode), while tables, queues,
 * messages in flight and stream positions stay as they are. The app says how its functions
 * are built (`CodeWatch`), so the rebuild is the app's own bundling, not a copy of it.
 */

/** One function's build, kept warm between rebuilds. */
export interface FunctionBundler {
  /**
   * Builds the function's code. Resolves with the files the build read (absolute paths:
   * a change to any of them rebuilds it) and the bundle's files (relative to its code
   * directory); rejects with the bundler's own message when the code does not compile.
   */
  build(): Promise<{
    readonly inputs: readonly string[];
    readonly files: readonly { readonly name: string; readonly contents: Uint8Array }[];
  }>;
  dispose(): Promise<void>;
}

/** How an app's functions are built from its sources, for `--watch`. */
export interface CodeWatch {
  /** Directories whose files the functions' code is built from. */
  readonly codeRoots: readonly string[];
  /**
   * Directories of the app's infrastructure code (a change needs a new synth).
   * @default - none
   */
  readonly infraRoots?: readonly string[];
  /** The build of a function, or undefined when its code is not built from these sources. */
  bundlerFor(logicalId: string, resource: CfnResource): FunctionBundler | undefined;
}

export interface WatchedFunction {
  readonly logicalId: string;
  readonly name: string;
  readonly resource: CfnResource;
  readonly host: FunctionHost;
}

interface Watched extends WatchedFunction {
  readonly bundler: FunctionBundler;
  inputs: ReadonlySet<string>;
  generation: number;
  /** The last build error printed, so a save that fails the same way says nothing new. */
  lastError?: string;
}

/** A short pause after the first change, so an editor's burst of writes is one reload. */
const SETTLE_MS = 20;

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

export class CodeWatcher {
  private readonly watched: Watched[] = [];
  private readonly watchers: fs.FSWatcher[] = [];
  private readonly changed = new Set<string>();
  private readonly infraChanged = new Set<string>();
  private firstChangeAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The reload running now; a change meanwhile waits for it, then reloads again. */
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Resolves when every function has been built once (`start`). */
  ready: Promise<void> = Promise.resolve();

  constructor(
    private readonly watch: CodeWatch,
    private readonly options: {
      /** Each reload's code goes to a directory of its own under this one. */
      readonly workDir: string;
      readonly print: (line: string) => void;
      /**
       * A change to the stack's code (`infraRoots`), with the files changed: re-synthesize and
       * apply. @default - a line asking for a restart
       */
      readonly onInfraChange?: (files: readonly string[]) => Promise<void>;
    },
  ) {}

  /**
   * Watches the app's directories at once (no save is missed), and builds each function
   * once in the background: what it reads is then known, and its build is warm. A save
   * meanwhile is reloaded after that; `ready` resolves when it is done.
   */
  start(functions: readonly WatchedFunction[]): void {
    fs.rmSync(this.options.workDir, { recursive: true, force: true });
    for (const root of this.watch.codeRoots) this.watchRoot(root, 'code');
    for (const root of this.watch.infraRoots ?? []) this.watchRoot(root, 'infra');
    this.ready = this.warmUp(functions);
    this.running = this.ready;
  }

  private async warmUp(functions: readonly WatchedFunction[]): Promise<void> {
    const started = Date.now();
    await Promise.all(
      functions.map(async (fn) => {
        const bundler = this.watch.bundlerFor(fn.logicalId, fn.resource);
        if (bundler === undefined) return;
        const entry: Watched = { ...fn, bundler, inputs: new Set(), generation: 0 };
        this.watched.push(entry);
        try {
          entry.inputs = new Set((await bundler.build()).inputs);
        } catch (error) {
          // The synth built this code, so this is a file saved since: said now, retried on save.
          this.reportError(entry, error);
        }
      }),
    );
    this.options.print(
      `watching ${this.watch.codeRoots.map((r) => path.relative(process.cwd(), r) || '.').join(', ')}: ` +
        `${this.watched.length} function${this.watched.length === 1 ? '' : 's'} rebuilt on save (ready to watch in ${seconds(Date.now() - started)})`,
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const watcher of this.watchers) watcher.close();
    await this.running;
    await Promise.all(this.watched.map((w) => w.bundler.dispose()));
  }

  private watchRoot(root: string, kind: 'code' | 'infra'): void {
    const watcher = fs.watch(root, { recursive: true }, (_event, filename) => {
      if (this.stopped || filename === null) return;
      const file = path.join(root, filename.toString());
      if (kind === 'infra') {
        this.infraChanged.add(file);
      } else {
        this.changed.add(file);
        this.firstChangeAt ??= Date.now();
      }
      clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.running = this.running
          .then(() => this.reload())
          .catch((error: Error) => this.options.print(`the reload failed: ${error.message}`));
      }, SETTLE_MS);
    });
    watcher.on('error', (error) => this.options.print(`watching ${root} failed: ${error.message}`));
    this.watchers.push(watcher);
  }

  /** Rebuilds the functions that read a changed file, and swaps the ones that built. */
  private async reload(): Promise<void> {
    if (this.infraChanged.size > 0 && !this.stopped) {
      const files = [...this.infraChanged].map((file) => path.relative(process.cwd(), file));
      this.infraChanged.clear();
      if (this.options.onInfraChange !== undefined) await this.options.onInfraChange(files);
      else this.options.print(`${files.join(', ')} changed: restart to apply it`);
    }
    if (this.stopped || this.changed.size === 0) return;
    const changed = [...this.changed];
    const since = this.firstChangeAt ?? Date.now();
    this.changed.clear();
    this.firstChangeAt = undefined;
    // A function whose last build failed has no inputs to go by: any change retries it.
    const affected = this.watched.filter(
      (w) => w.inputs.size === 0 || changed.some((file) => w.inputs.has(file)),
    );
    if (affected.length === 0) return;
    const built = await Promise.all(
      affected.map(async (w) => {
        try {
          const output = await w.bundler.build();
          w.inputs = new Set(output.inputs);
          w.lastError = undefined;
          return { w, files: output.files };
        } catch (error) {
          this.reportError(w, error);
          return undefined;
        }
      }),
    );
    const rebuiltAt = Date.now();
    const swapped: string[] = [];
    for (const result of built) {
      if (result === undefined || this.stopped) continue;
      const { w, files } = result;
      w.generation += 1;
      const dir = path.join(this.options.workDir, w.logicalId, String(w.generation));
      for (const file of files) {
        fs.mkdirSync(path.dirname(path.join(dir, file.name)), { recursive: true });
        fs.writeFileSync(path.join(dir, file.name), file.contents);
      }
      try {
        w.host.replaceCode(dir);
        swapped.push(w.name);
        // Older code than the one just replaced is no longer running anywhere.
        fs.rmSync(path.join(this.options.workDir, w.logicalId, String(w.generation - 2)), {
          recursive: true,
          force: true,
        });
      } catch (error) {
        this.reportError(w, error);
      }
    }
    const done = Date.now();
    if (swapped.length > 0) {
      this.options.print(
        `reloaded ${swapped.join(', ')} in ${seconds(done - since)} (rebuild ${seconds(rebuiltAt - since)}, swap ${seconds(done - rebuiltAt)})`,
      );
    }
  }

  private reportError(w: Watched, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    if (message === w.lastError) return;
    w.lastError = message;
    this.options.print(
      `${w.name}: the saved code does not build; the last good code keeps serving:\n${message}`,
    );
  }
}
