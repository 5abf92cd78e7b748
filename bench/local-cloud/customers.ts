import { callApi } from 'cdk-local-cloud';
import { sinkCalls } from '../../local/notification-sink';
import { type Cloud, newCustomer, sleep } from '../pipeline/driver';
import type { CustomerRun } from './result';

/** What the provider's stand-in answers a welcome it accepted. */
const ACCEPTED = 202;

/** Each created customer's first accepted welcome, by the sink's `receivedAt`, in ms. */
const welcomesOf = async (cloud: Cloud, ids: ReadonlySet<string>): Promise<Map<string, number>> => {
  const welcomed = new Map<string, number>();
  for (const call of await sinkCalls(cloud)) {
    const id = (call.body as { customerId?: string } | null)?.customerId;
    if (id === undefined || !ids.has(id) || call.status !== ACCEPTED || welcomed.has(id)) continue;
    welcomed.set(id, Date.parse(call.receivedAt));
  }
  return welcomed;
};

export interface CustomerTimes {
  readonly run: CustomerRun;
  /** When the first POST was sent, in ms. */
  readonly startMs: number;
  /** Each welcomed customer's welcome, in ms. */
  readonly welcomesMs: readonly number[];
}

/**
 * `count` customers (opted in) created by `clients` concurrent clients, each POSTing the
 * next as soon as its last was answered, then followed until every created one was welcomed.
 */
export const createCustomers = async (
  cloud: Cloud,
  count: number,
  clients: number,
  log: (line: string) => void,
): Promise<CustomerTimes> => {
  const ids = new Set<string>();
  const failures = new Map<string, number>();
  let next = 0;
  const client = async () => {
    while (next < count) {
      next += 1;
      const answer = await callApi(cloud, 'POST', '/customers', newCustomer(true)).catch(
        (error: unknown) => ({ status: 0, body: String(error) }),
      );
      if (answer.status === 201) ids.add((answer.body as { id: string }).id);
      else failures.set(String(answer.status), (failures.get(String(answer.status)) ?? 0) + 1);
    }
  };
  const startMs = Date.now();
  await Promise.all(Array.from({ length: clients }, client));
  log(`  ${ids.size} of ${count} created in ${((Date.now() - startMs) / 1000).toFixed(1)} s`);

  // Far beyond the slowest rate measured before the transactions were fixed (1/s).
  const deadline = Date.now() + Math.max(120_000, count * 300);
  let welcomed = await welcomesOf(cloud, ids);
  while (welcomed.size < ids.size && Date.now() < deadline) {
    await sleep(250);
    welcomed = await welcomesOf(cloud, ids);
  }
  const welcomesMs = [...welcomed.values()];
  const problems: string[] = [];
  for (const [status, n] of failures) {
    problems.push(`${n} POST(s) answered ${status === '0' ? 'nothing' : status}`);
  }
  const complete = welcomed.size === ids.size && ids.size > 0;
  if (!complete) {
    problems.push(`${ids.size - welcomed.size} created customer(s) not welcomed in time`);
  }
  const seconds = complete ? (Math.max(...welcomesMs) - startMs) / 1000 : null;
  const run: CustomerRun = {
    customers: count,
    clients,
    created: ids.size,
    welcomed: welcomed.size,
    seconds,
    perSecond: seconds === null ? null : welcomed.size / seconds,
    problems,
  };
  log(
    `  ${welcomed.size} welcomed` +
      (seconds === null
        ? ''
        : ` ${seconds.toFixed(1)} s after the first POST: ${run.perSecond?.toFixed(1)}/s`) +
      (problems.length > 0 ? `; ${problems.join('; ')}` : ''),
  );
  return { run, startMs, welcomesMs };
};
