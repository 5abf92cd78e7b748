import { callApi } from 'cdk-local-cloud';
import {
  type Cloud,
  deadLetterCount,
  newCustomer,
  sleep,
  waitForSettled,
} from '../pipeline/driver';
import { type LogEntry, LogReader, parseLogLines } from '../pipeline/logs';
import type { FunctionConfig } from '../pipeline/template';
import {
  analyseScenario,
  type ConsumerLogs,
  type CustomerWrites,
  doneTimes,
  type Write,
} from './analysis';
import type { ScenarioRun } from './result';

// The issue's ordering scenario on a running cloud: each customer created, then updated in
// quick succession, every customer at once; what each consumer did is read from its log.

/** What the end-to-end ordering test allows its 50 customers' 550 events on the local cloud. */
const DONE_TIMEOUT_MS = 200_000;

/** What the API made of a customer's writes: the versions it accepted, and how many it did not. */
interface Written {
  readonly customer: CustomerWrites | undefined;
  readonly failed: number;
}

/**
 * One customer, opted in (so marketing handles every event), created and updated `updates`
 * times, each write as soon as the last was answered, as the end-to-end ordering test does.
 */
const liveCustomer = async (cloud: Cloud, updates: number): Promise<Written> => {
  const input = newCustomer(true);
  const created = await callApi(cloud, 'POST', '/customers', input).catch(() => undefined);
  if (created?.status !== 201) return { customer: undefined, failed: 1 + updates };
  const answeredAt = Date.now();
  const { id, version } = created.body as { id: string; version: number };
  const writes: Write[] = [{ version, answeredAt }];
  let etag = created.headers.get('etag') ?? '';
  let failed = 0;
  for (let n = 1; n <= updates; n += 1) {
    const updated = await callApi(
      cloud,
      'PUT',
      `/customers/${id}`,
      { ...input, fullName: `Name ${n}` },
      { 'if-match': etag },
    ).catch(() => undefined);
    if (updated?.status !== 200) {
      failed += 1;
      continue;
    }
    writes.push({ version: (updated.body as { version: number }).version, answeredAt: Date.now() });
    etag = updated.headers.get('etag') ?? etag;
  }
  return { customer: { id, writes }, failed };
};

export const runScenario = async (
  cloud: Cloud,
  functions: readonly FunctionConfig[],
  customers: number,
  updates: number,
  log: (line: string) => void,
): Promise<ScenarioRun> => {
  const reader = new LogReader(cloud.logDir);
  const logicalId = (name: string) => functions.find((f) => f.name === name)?.logicalId ?? name;
  // What the functions logged before the scenario is not its.
  for (const f of functions) reader.read(f.logicalId);
  const logs: { [K in keyof ConsumerLogs]: LogEntry[] } = {
    archive: [],
    marketing: [],
    welcome: [],
  };
  const readLogs = () => {
    for (const consumer of ['archive', 'marketing', 'welcome'] as const) {
      logs[consumer].push(...parseLogLines(reader.read(logicalId(consumer))));
    }
  };

  const startedAt = Date.now();
  const answers = await Promise.all(
    Array.from({ length: customers }, () => liveCustomer(cloud, updates)),
  );
  const written = answers.flatMap((a) => (a.customer ? [a.customer] : []));
  const failedRequests = answers.reduce((sum, a) => sum + a.failed, 0);
  log(
    `  ${written.length} of ${customers} customers created and updated ${updates} times ` +
      `(${failedRequests} write(s) not accepted) in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`,
  );

  const deadline = Date.now() + DONE_TIMEOUT_MS;
  for (;;) {
    readLogs();
    if (doneTimes(written, logs).size === written.length || Date.now() > deadline) break;
    await sleep(500);
  }
  // Redeliveries and late events show in the order check: let them come before reading it.
  await waitForSettled(cloud, 'the scenario to drain', async () => true, {
    timeoutMs: 60_000,
  }).catch(() => log('  still busy 60 s after the last customer was done; reading anyway'));
  readLogs();

  const run = analyseScenario({
    customers,
    updatesPerCustomer: updates,
    startedAt,
    written,
    failedRequests,
    logs,
    deadLetters: await deadLetterCount(cloud),
  });
  log(
    `  ${run.events} events, ${run.eventsPerSecond === null ? 'not all done' : `${run.eventsPerSecond.toFixed(1)}/s`}; ` +
      `archive met ${run.archive.customersOutOfOrder} customer(s) out of order, marketing ${run.marketing.customersOutOfOrder}` +
      (run.ok ? '' : `; ${run.problems.join('; ')}`),
  );
  return run;
};
