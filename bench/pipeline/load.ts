import { callApi, DYNAMODB_WRITES, deliveries, functionCalls } from 'cdk-local-cloud';
import { ARCHIVE_PREFIX, CONTACTS_PREFIX } from '../../lambda/shared/contract';
import { sinkCalls } from '../../local/notification-sink';
import { formatMeasured, measure } from '../stats';
import { ratePerSecond } from './calls';
import {
  type Cloud,
  deadLetterCount,
  newCustomer,
  sleep,
  versionsUnder,
  waitForSettled,
} from './driver';
import {
  archivedCreation,
  completionTimes,
  grantedCreation,
  type LogEntry,
  LogReader,
  parseLogLines,
} from './logs';
import type { LatencySet, LoadRun } from './result';
import type { FunctionConfig } from './template';
import { latencyTrend, type Trend } from './trend';

// Latency and throughput: customers sent at a steady rate, followed until every consumer is done.

interface Sent {
  readonly sentAt: number;
  returnedAt: number;
  status: number;
  id?: string;
}

export const loadRun = async (
  cloud: Cloud,
  functions: readonly FunctionConfig[],
  rate: number,
  count: number,
  log: (line: string) => void,
): Promise<LoadRun> => {
  const logs = new LogReader(cloud.logDir);
  const logicalId = (name: string) => functions.find((f) => f.name === name)?.logicalId ?? name;
  for (const f of functions) logs.read(f.logicalId);
  const callsBefore = (await functionCalls(cloud)).length;
  const deliveriesBefore = (await deliveries(cloud)).length;

  const sent: Sent[] = [];
  const requests: Promise<void>[] = [];
  const start = Date.now();
  for (let i = 0; i < count; i += 1) {
    await sleep(start + (i * 1000) / rate - Date.now());
    const entry: Sent = { sentAt: Date.now(), returnedAt: 0, status: 0 };
    sent.push(entry);
    requests.push(
      callApi(cloud, 'POST', '/customers', newCustomer(true)).then(
        (answer) => {
          entry.returnedAt = Date.now();
          entry.status = answer.status;
          if (answer.status === 201) entry.id = (answer.body as { id: string }).id;
        },
        () => {
          entry.returnedAt = Date.now();
        },
      ),
    );
  }
  await Promise.all(requests);
  const ids = sent.flatMap((s) => (s.id ? [s.id] : []));

  // Done per consumer: the provider's receipt; the archive's and marketing's own log line
  // (written right after their S3 write returned: millisecond timestamps, where S3's
  // LastModified has whole seconds). S3 itself is checked once everything reports done.
  const welcomed = new Map<string, number>();
  const archived = new Map<string, number>();
  const granted = new Map<string, number>();
  const archiveEntries: LogEntry[] = [];
  const marketingEntries: LogEntry[] = [];
  const deadline = Date.now() + 120_000;
  let welcomeCounts = new Map<string, number>();
  for (;;) {
    welcomeCounts = new Map();
    for (const call of await sinkCalls(cloud)) {
      const id = (call.body as { customerId?: string } | null)?.customerId;
      if (id === undefined) continue;
      welcomeCounts.set(id, (welcomeCounts.get(id) ?? 0) + 1);
      if (!welcomed.has(id)) welcomed.set(id, Date.parse(call.receivedAt));
    }
    archiveEntries.push(...parseLogLines(logs.read(logicalId('archive'))));
    marketingEntries.push(...parseLogLines(logs.read(logicalId('marketing'))));
    for (const [id, at] of completionTimes(archiveEntries, archivedCreation)) archived.set(id, at);
    for (const [id, at] of completionTimes(marketingEntries, grantedCreation)) granted.set(id, at);
    const done = ids.filter((id) => welcomed.has(id) && archived.has(id) && granted.has(id));
    if (done.length === ids.length || Date.now() > deadline) break;
    await sleep(500);
  }
  // Let late duplicates show before counting them.
  let drained = true;
  try {
    await waitForSettled(cloud, `the ${rate}/s run to drain`, async () => true, {
      timeoutMs: 120_000,
    });
  } catch {
    drained = false;
  }
  const finalWelcomes = new Map<string, number>();
  for (const call of await sinkCalls(cloud)) {
    const id = (call.body as { customerId?: string } | null)?.customerId;
    if (id !== undefined) finalWelcomes.set(id, (finalWelcomes.get(id) ?? 0) + 1);
  }
  const archives = await versionsUnder(cloud, cloud.assetsBucket, ARCHIVE_PREFIX);
  const contacts = await versionsUnder(cloud, cloud.contactsBucket, CONTACTS_PREFIX);
  const deadLetters = await deadLetterCount(cloud);
  const calls = (await functionCalls(cloud)).slice(callsBefore);
  const failedDeliveries = (await deliveries(cloud))
    .slice(deliveriesBefore)
    .filter((d) => d.outcome === 'failed').length;

  const complete = sent.filter(
    (s) => s.id && welcomed.has(s.id) && archived.has(s.id) && granted.has(s.id),
  );
  const doneAt = (id: string) =>
    Math.max(welcomed.get(id) ?? 0, archived.get(id) ?? 0, granted.get(id) ?? 0);
  const welcomedOnce = ids.filter((id) => finalWelcomes.get(id) === 1).length;
  const archivedOnce = ids.filter(
    (id) => archives.get(`customers/${id}.json`)?.versions === 1,
  ).length;
  const contactsPresent = ids.filter(
    (id) => (contacts.get(`contacts/${id}.json`)?.versions ?? 0) >= 1,
  ).length;
  const problems: string[] = [];
  if (ids.length < count) problems.push(`${count - ids.length} POSTs did not return 201`);
  if (complete.length < ids.length) {
    problems.push(`${ids.length - complete.length} customers not done within 120 s`);
  }
  if (welcomedOnce < ids.length) problems.push(`${ids.length - welcomedOnce} not welcomed once`);
  if (archivedOnce < ids.length) problems.push(`${ids.length - archivedOnce} not archived once`);
  if (contactsPresent < ids.length) {
    problems.push(`${ids.length - contactsPresent} without a marketing contact`);
  }
  if (deadLetters > 0) problems.push(`${deadLetters} message(s) in dead-letter queues`);
  if (!drained) problems.push('still busy 120 s after the last customer was done');

  let latency: LatencySet | null = null;
  let trend: Trend | null = null;
  let achievedPerSecond = 0;
  if (complete.length > 0) {
    const of = (pick: (s: Sent, id: string) => number) =>
      measure(
        complete.map((s) => pick(s, s.id ?? '')),
        'ms',
      );
    latency = {
      pipeline: of((s, id) => doneAt(id) - s.returnedAt),
      total: of((s, id) => doneAt(id) - s.sentAt),
      api: of((s) => s.returnedAt - s.sentAt),
      welcome: of((s, id) => (welcomed.get(id) ?? 0) - s.returnedAt),
      archive: of((s, id) => (archived.get(id) ?? 0) - s.returnedAt),
      marketing: of((s, id) => (granted.get(id) ?? 0) - s.returnedAt),
    };
    trend = latencyTrend(
      complete.map((s) => ({ sentAt: s.sentAt, latencyMs: doneAt(s.id ?? '') - s.sentAt })),
    );
    const lastDone = Math.max(...complete.map((s) => doneAt(s.id ?? '')));
    achievedPerSecond = (complete.length * 1000) / (lastDone - start);
  }
  if (trend !== null && !trend.stable) {
    problems.push(
      `latency grows ${trend.growthMsPerSecond.toFixed(0)} ms per second of the run (first quarter ${trend.first.toFixed(0)} ms, last ${trend.last.toFixed(0)} ms)`,
    );
  }
  const run: LoadRun = {
    offeredPerSecond: rate,
    customers: count,
    created: ids.length,
    completed: complete.length,
    welcomedOnce,
    archivedOnce,
    contactsPresent,
    deadLetters,
    failedDeliveries,
    achievedPerSecond,
    trend,
    ok: problems.length === 0,
    problems,
    publishBatchesPerCustomer:
      calls.filter((c) => c.operation === 'PublishBatch').length / Math.max(1, ids.length),
    dynamodbWritesPerSecond: ratePerSecond(
      calls.filter((c) => c.service === 'dynamodb' && DYNAMODB_WRITES.has(c.operation)),
    ),
    latency,
  };
  log(
    `  ${rate}/s × ${count}: ${run.ok ? 'ok' : problems.join('; ')}` +
      (latency ? `; pipeline latency ${formatMeasured(latency.pipeline)}` : ''),
  );
  return run;
};

/** The run whose latency the summary reports: the highest rate sustained, else the lowest tried. */
export const latencyRateOf = (runs: readonly LoadRun[]): number => {
  const passed = runs.filter((r) => r.ok).map((r) => r.offeredPerSecond);
  if (passed.length > 0) return Math.max(...passed);
  return runs.length > 0 ? Math.min(...runs.map((r) => r.offeredPerSecond)) : 0;
};
