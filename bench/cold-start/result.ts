import type { Measured } from '../stats';
import type { Share, ZodShare } from './build';
import type { HandlerName } from './handlers';

// What the cold-start section measures: its part of bench/results.json.

/** Ours must spend at most this share of the default's time over a bare Node process. */
export const GOAL_RATIO = 0.5;

/** Issue 17: Powertools Metrics may add at most this to a cold start, or the EMF is written by hand. */
export const METRICS_GOAL_MS = 5;

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
  /**
   * Photon alone, for a handler that resizes with it, timed in its own process through the
   * handler's adapter: loading it (read, compile and instantiate its WebAssembly, which the
   * handler does lazily, inside its first invocation), then resizing the stub's image cold
   * and warm. `undefined` for a handler without Photon.
   */
  readonly photon?: {
    readonly wasmBytes: number;
    /** The image the stub serves and the probe resizes. */
    readonly image: string;
    readonly load: Measured;
    readonly firstResize: Measured;
    readonly warmResize: Measured;
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
  /**
   * One consumer invocation's business metrics (three EMF lines) after the Logger, written
   * through the handlers' adapter over Powertools Metrics, and by hand: the difference is what
   * Powertools Metrics adds to a cold start. Absent from results of earlier runs.
   */
  readonly metrics?: { readonly byPowertools: VariantResult; readonly byHand: VariantResult };
  /** The same schema bundled with our options under each zod import style, in bytes. */
  readonly zodImportStyles: {
    readonly namespace: number;
    readonly named: number;
    readonly mini: number;
  };
}
