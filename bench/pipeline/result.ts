import type { Measured } from '../stats';
import type { Action, CallRange, Range } from './calls';
import type { FloorComparison } from './floor';
import type { FunctionConfig, MappingConfig } from './template';
import type { Trend } from './trend';

// What the section measures: its part of bench/results.json, which the cost section reads.

export interface ActionCalls {
  readonly action: Action;
  readonly rows: readonly CallRange[];
  /** Every call of every function for the action, per cycle. */
  readonly total: Range;
  readonly floorTotal: number;
  /** Messages the SQS pollers handed from each queue, by its name (a consumer's is its function's; their own calls are not proxied). */
  readonly deliveries: readonly { readonly queue: string; readonly messages: Range }[];
  /**
   * Per function, from its first AWS call's start to its last call's end: the part
   * of the invocation spent on and between AWS calls (the provider POST included).
   */
  readonly spansMs: readonly { readonly fn: string; readonly span: Measured }[];
  /** Per function, bytes of structured log lines the handler wrote (median over cycles). */
  readonly logBytes: readonly { readonly fn: string; readonly bytes: number }[];
}

export interface LatencySet {
  /** POST /customers returned → every consumer done. */
  readonly pipeline: Measured;
  /** POST /customers sent → every consumer done. */
  readonly total: Measured;
  readonly api: Measured;
  /** POST returned → each consumer done. */
  readonly welcome: Measured;
  readonly archive: Measured;
  readonly marketing: Measured;
}

export interface LoadRun {
  readonly offeredPerSecond: number;
  readonly customers: number;
  readonly created: number;
  readonly completed: number;
  readonly welcomedOnce: number;
  readonly archivedOnce: number;
  readonly contactsPresent: number;
  readonly deadLetters: number;
  /** Messages a consumer failed and SQS redelivered: what makes the latency's tail. */
  readonly failedDeliveries: number;
  /** Customers completed per second, first POST sent to last customer done. */
  readonly achievedPerSecond: number;
  /** Total latency (from POST sent) over the run: its quarters and its growth. */
  readonly trend: Trend | null;
  readonly ok: boolean;
  readonly problems: readonly string[];
  readonly publishBatchesPerCustomer: number;
  /** The emulator's DynamoDB writes per second of the run. */
  readonly dynamodbWritesPerSecond: number;
  readonly latency: LatencySet | null;
}

export interface PipelineResult {
  readonly timeScale: number;
  readonly functions: readonly FunctionConfig[];
  readonly mappings: readonly MappingConfig[];
  readonly calls: {
    readonly cycles: number;
    readonly identical: boolean;
    readonly actions: readonly ActionCalls[];
    readonly comparison: readonly FloorComparison[];
  };
  readonly load: {
    readonly customersPerRun: number;
    /** The rate whose latency the summary reports: the highest sustained, else the lowest tried. */
    readonly latencyRate: number;
    readonly runs: readonly LoadRun[];
    /** The highest offered rate that passed; null when none did. */
    readonly sustainedPerSecond: number | null;
    /** The highest rate tried passed too: the limit lies above it. */
    readonly sustainedIsLowerBound: boolean;
  };
  /**
   * After the lifecycle cycles: per function, what its role grants that neither it nor the
   * platform used (the local cloud's IAM report), and what was denied. Absent in results
   * from before the local cloud enforced IAM.
   */
  readonly iam?: {
    readonly unused: readonly {
      readonly fn: string;
      readonly action: string;
      readonly resources: readonly string[];
    }[];
    readonly denied: readonly {
      readonly fn: string;
      readonly action: string;
      readonly resource: string;
    }[];
  };
  readonly durationSeconds: number;
}
