// What the section measures: its part of bench/results.json.

import type { Measured } from '../stats';

/** Issue 11's targets. */
export const GOALS = {
  burstPerSecond: 10,
  scalingRatio: 0.8,
  reusedStartSeconds: 8,
  e2eSeconds: 60,
  /** Issue 13's: a saved handler serves its next request within a second. */
  watchReloadMs: 1000,
} as const;

/** Customers created by concurrent clients on a fresh local cloud, until every welcome was sent. */
export interface CustomerRun {
  readonly customers: number;
  readonly clients: number;
  /** POSTs answered 201. */
  readonly created: number;
  /** Created customers whose welcome the provider's stand-in accepted. */
  readonly welcomed: number;
  /** First POST sent → last welcome received; null when not every created customer was welcomed. */
  readonly seconds: number | null;
  /** `welcomed / seconds`; null with `seconds`. */
  readonly perSecond: number | null;
  readonly problems: readonly string[];
}

/** The rate over the first `window` completions against the rate over the last `window`. */
export interface Scaling {
  readonly window: number;
  /** `window / (t[window] − t0)`, t0 the first POST, t[k] the k-th welcome. */
  readonly firstPerSecond: number;
  /** `window / (t[n] − t[n − window])`. */
  readonly lastPerSecond: number;
  readonly ratio: number;
}

export interface ScalingRun extends CustomerRun {
  /** null when fewer than two windows of customers were welcomed. */
  readonly scaling: Scaling | null;
}

/** moto's own rates, from concurrent SDK clients straight to the local cloud's emulator. */
export interface Ceiling {
  readonly clients: number;
  readonly seconds: number;
  /** Transactions of two conditional puts of new items, into a table with a stream. */
  readonly transactWritesPerSecond: number;
  readonly transactWriteErrors: number;
  readonly getItemsPerSecond: number;
  readonly getItemErrors: number;
}

export type AssemblyHow = 'synthesized' | 'reused' | 'given';

/** One launch of the app's start script. */
export interface StartRun {
  /** What the ready line says; null when no ready line was found. */
  readonly assembly: AssemblyHow | null;
  /** The seconds the ready line reports. */
  readonly readySeconds: number | null;
  /** Spawn → state file written, on the bench's clock. */
  readonly wallSeconds: number;
}

export type E2eRun =
  | { readonly skipped: true; readonly reason: string }
  | {
      readonly skipped: false;
      readonly seconds: number;
      readonly exitCode: number | null;
      /** Jest's `Tests:` line. */
      readonly tests: string | null;
    };

/** `npm start -- --watch`: saves of a handler until the next request gets the new code. */
export type WatchRun =
  | { readonly skipped: true; readonly reason: string }
  | {
      readonly skipped: false;
      /** Watch mode's first build of every function, after ready (its "watching" line). */
      readonly warmUpSeconds: number;
      /** The write → the first answer from the new code, requests every 10 ms. */
      readonly savedToServed: Measured;
      /** What each reload line says: the first change seen → the new code swapped in. */
      readonly reloadLines: Measured;
    };

export interface LocalCloudResult {
  readonly timeScale: number;
  readonly burst: CustomerRun;
  /** Measured on the burst's cloud once the burst was done. */
  readonly ceiling: Ceiling;
  readonly scaling: ScalingRun;
  /** In launch order, one work directory: the first synthesizes, the next reuse. */
  readonly starts: readonly StartRun[];
  readonly e2e: E2eRun;
  /** Absent from results recorded before watch mode. */
  readonly watch?: WatchRun;
  readonly durationSeconds: number;
}
