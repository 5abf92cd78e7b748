import type { LogEntry } from '../pipeline/logs';
import { measure } from '../stats';
import type { OrderCheck, ScenarioRun } from './result';

// The ordering scenario read from the consumers' own log lines: pure, no cloud, no clock.

/** The archive handled an event: wrote its version, or found it (or a newer one) written. */
export const archiveHandled = (e: LogEntry) =>
  e.message === 'archive updated' || e.message === 'archive unchanged';
/** The archive wrote the event's version. */
export const archiveApplied = (e: LogEntry) => e.message === 'archive updated';
/** Marketing handled a consent change, whatever it made of it (granted, stale, overtaken …). */
export const marketingHandled = (e: LogEntry) => e.message === 'consent change handled';
/** The provider accepted the customer's welcome. */
export const welcomed = (e: LogEntry) => e.message === 'welcome sent';

/** Each customer's versions in the lines `handled` accepts, in the order the consumer logged them. */
export const versionsByCustomer = (
  entries: readonly LogEntry[],
  handled: (entry: LogEntry) => boolean,
): Map<string, number[]> => {
  const byCustomer = new Map<string, number[]>();
  for (const entry of entries) {
    if (!handled(entry) || entry.customerId === undefined || entry.version === undefined) continue;
    byCustomer.set(entry.customerId, [...(byCustomer.get(entry.customerId) ?? []), entry.version]);
  }
  return byCustomer;
};

/**
 * How often a consumer met a customer's events out of version order. A repeat of the same
 * version (a redelivery) is not out of order; a version below one already met is late.
 */
export const orderCheck = (versions: ReadonlyMap<string, readonly number[]>): OrderCheck => {
  let customersOutOfOrder = 0;
  let lateEvents = 0;
  for (const seen of versions.values()) {
    let newest = Number.NEGATIVE_INFINITY;
    let late = 0;
    for (const version of seen) {
      if (version < newest) late += 1;
      newest = Math.max(newest, version);
    }
    if (late > 0) customersOutOfOrder += 1;
    lateEvents += late;
  }
  return { customersOutOfOrder, lateEvents };
};

/** When each customer's each version was first handled: customer → version → ms. */
export const firstHandled = (
  entries: readonly LogEntry[],
  handled: (entry: LogEntry) => boolean,
): Map<string, Map<number, number>> => {
  const times = new Map<string, Map<number, number>>();
  for (const entry of entries) {
    if (!handled(entry) || entry.customerId === undefined || entry.version === undefined) continue;
    if (entry.timestamp === undefined) continue;
    const at = Date.parse(entry.timestamp);
    const versions = times.get(entry.customerId) ?? new Map<number, number>();
    const previous = versions.get(entry.version);
    if (previous === undefined || at < previous) versions.set(entry.version, at);
    times.set(entry.customerId, versions);
  }
  return times;
};

/** A write the API accepted: the version it made and when its answer came back. */
export interface Write {
  readonly version: number;
  readonly answeredAt: number;
}

/** A created customer and every write the API accepted for it, the creation first. */
export interface CustomerWrites {
  readonly id: string;
  readonly writes: readonly Write[];
}

/** What each consumer logged during the scenario, in the order it logged it. */
export interface ConsumerLogs {
  readonly archive: readonly LogEntry[];
  readonly marketing: readonly LogEntry[];
  readonly welcome: readonly LogEntry[];
}

/**
 * When every consumer was done with each customer: the archive wrote its last version,
 * marketing handled it and the welcome was sent. Customers not done yet are absent.
 */
export const doneTimes = (
  customers: readonly CustomerWrites[],
  logs: ConsumerLogs,
): Map<string, number> => {
  const archived = firstHandled(logs.archive, archiveApplied);
  const marketed = firstHandled(logs.marketing, marketingHandled);
  const welcomes = new Map<string, number>();
  for (const e of logs.welcome) {
    if (!welcomed(e) || e.customerId === undefined || e.timestamp === undefined) continue;
    if (!welcomes.has(e.customerId)) welcomes.set(e.customerId, Date.parse(e.timestamp));
  }
  const done = new Map<string, number>();
  for (const { id, writes } of customers) {
    const last = Math.max(...writes.map((w) => w.version));
    const times = [archived.get(id)?.get(last), marketed.get(id)?.get(last), welcomes.get(id)];
    if (times.every((t) => t !== undefined)) done.set(id, Math.max(...(times as number[])));
  }
  return done;
};

/** Events per second through the pipeline: every accepted write, first request to last done. */
export const throughput = (
  events: number,
  startedAt: number,
  lastDoneAt: number,
): { seconds: number; eventsPerSecond: number } => {
  const seconds = (lastDoneAt - startedAt) / 1000;
  return { seconds, eventsPerSecond: seconds > 0 ? events / seconds : 0 };
};

export interface ScenarioInput {
  readonly customers: number;
  readonly updatesPerCustomer: number;
  /** When the first request was sent, in ms. */
  readonly startedAt: number;
  readonly written: readonly CustomerWrites[];
  readonly failedRequests: number;
  readonly logs: ConsumerLogs;
  readonly deadLetters: number;
}

/** The scenario's figures and its problems, from what was written and what each consumer logged. */
export const analyseScenario = (input: ScenarioInput): ScenarioRun => {
  const { written, logs } = input;
  const events = written.reduce((sum, c) => sum + c.writes.length, 0);
  const done = [...doneTimes(written, logs).values()];
  const complete = written.length > 0 && done.length === written.length;
  const rate = complete ? throughput(events, input.startedAt, Math.max(...done)) : null;

  // Only the scenario's customers: a straggler of an earlier run on the cloud is not its finding.
  const ids = new Set(written.map((c) => c.id));
  const ofScenario = (versions: Map<string, number[]>) =>
    new Map([...versions].filter(([id]) => ids.has(id)));
  const archiveFirst = firstHandled(logs.archive, archiveHandled);
  const updateLatencies = written.flatMap(({ id, writes }) =>
    writes.slice(1).flatMap((w) => {
      const at = archiveFirst.get(id)?.get(w.version);
      return at === undefined ? [] : [at - w.answeredAt];
    }),
  );

  const problems: string[] = [];
  if (written.length < input.customers) {
    problems.push(`${input.customers - written.length} customer(s) not created`);
  }
  if (input.failedRequests > 0) {
    problems.push(`${input.failedRequests} write(s) not accepted`);
  }
  if (!complete) {
    problems.push(`${written.length - done.length} customer(s) not done by every consumer in time`);
  }
  if (input.deadLetters > 0) {
    problems.push(`${input.deadLetters} message(s) in dead-letter queues`);
  }
  return {
    customers: input.customers,
    updatesPerCustomer: input.updatesPerCustomer,
    created: written.length,
    events,
    failedRequests: input.failedRequests,
    completed: done.length,
    seconds: rate?.seconds ?? null,
    eventsPerSecond: rate?.eventsPerSecond ?? null,
    updateToArchive: updateLatencies.length > 0 ? measure(updateLatencies, 'ms') : null,
    archive: orderCheck(ofScenario(versionsByCustomer(logs.archive, archiveHandled))),
    marketing: orderCheck(ofScenario(versionsByCustomer(logs.marketing, marketingHandled))),
    deadLetters: input.deadLetters,
    ok: problems.length === 0,
    problems,
  };
};
