import type { Ordering } from '../../lib/config';
import type { Bill, Workload } from '../cost/model';
import type { LoadRun } from '../pipeline';
import type { FunctionConfig, MappingConfig } from '../pipeline/template';
import type { Measured } from '../stats';

// What the section measures and models: its part of bench/results.json.

/** Something not measured, and why: a cloud that did not start, a run that threw. */
export interface Skipped {
  readonly skipped: true;
  readonly reason: string;
}

/** A measurement that may have been skipped; the section goes on without it. */
export type Outcome<T> = Skipped | ({ readonly skipped: false } & T);

/** How one consumer met each customer's events: in version order, or not. */
export interface OrderCheck {
  /** Customers whose versions, in the order the consumer handled them, ever went down. */
  readonly customersOutOfOrder: number;
  /** Events handled after a newer one of the same customer (the consumer's version check skipped them). */
  readonly lateEvents: number;
}

/**
 * The ordering scenario, scaled: customers created and each updated in quick
 * succession, all customers at once, until every consumer has handled every last version.
 */
export interface ScenarioRun {
  readonly customers: number;
  readonly updatesPerCustomer: number;
  /** Customers the API created: the order checks' denominator. */
  readonly created: number;
  /** Writes the API accepted (a creation or an update): one event each. */
  readonly events: number;
  /** Writes the API did not accept (a status other than 201 or 200, or no answer). */
  readonly failedRequests: number;
  /** Customers whose creation was welcomed and whose last version the archive and marketing handled. */
  readonly completed: number;
  /** First request sent → the last consumer done; null unless every created customer completed. */
  readonly seconds: number | null;
  /** `events / seconds`: events through the pipeline, every consumer's share handled. */
  readonly eventsPerSecond: number | null;
  /** Each update's answer → the archive's first handling of its version (written or found written). */
  readonly updateToArchive: Measured | null;
  readonly archive: OrderCheck;
  readonly marketing: OrderCheck;
  readonly deadLetters: number;
  readonly ok: boolean;
  readonly problems: readonly string[];
}

/** One ordering on a local cloud of its own. */
export type ModeRun = { readonly mode: Ordering } & Outcome<{
  /** The template's functions and event sources, as the cost model reads them. */
  readonly template: {
    readonly functions: readonly FunctionConfig[];
    readonly mappings: readonly MappingConfig[];
  };
  /** A steady load at the section's rate, as the pipeline section runs one. */
  readonly latency: Outcome<LoadRun>;
  readonly scenario: Outcome<ScenarioRun>;
}>;

/** One workload under one load, billed in both orderings. */
export interface CostComparison {
  readonly workload: Workload;
  readonly load: string;
  readonly standardUsd: number;
  readonly perCustomerUsd: number;
  /** perCustomer ÷ standard. */
  readonly ratio: number;
}

export interface OrderingCost {
  readonly steadyPerSecond: number;
  readonly comparisons: readonly CostComparison[];
  /** Every bill, both orderings ("ours" design), for the line items behind a comparison. */
  readonly bills: readonly { readonly ordering: Ordering; readonly bill: Bill }[];
  readonly assumptions: readonly string[];
}

export interface OrderingResult {
  readonly timeScale: number;
  readonly latency: { readonly perSecond: number; readonly customers: number };
  readonly scenario: { readonly customers: number; readonly updatesPerCustomer: number };
  readonly modes: readonly ModeRun[];
  readonly cost: Outcome<OrderingCost>;
  readonly durationSeconds: number;
}
