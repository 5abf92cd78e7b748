import { callApi, control, functionCalls } from 'cdk-local-cloud';
import { CONTACTS_PREFIX, contactKey } from '../../lambda/shared/contract';
import { sinkCalls } from '../../local/notification-sink';
import {
  connect,
  eventually,
  type LocalCloud,
  newCustomerInput,
  ownCloud,
  welcomeCallsFor,
} from './local-cloud';
import { type PipelineQueries, pipelineQueries } from './queries';

/**
 * The pipeline under load, on a cloud of its own so that only these customers are in its
 * queues when the tests count what is left in them: 200 customers at once, then 100
 * customers' lives while 5 % of every function's AWS calls fail. One file, so that the
 * suite's two busiest scenarios run one after the other, beside the files that mostly wait.
 */
jest.setTimeout(240_000);

const started = ownCloud('load');
let cloud: LocalCloud;
/** The suite's cloud: its notification sink gets every cloud's welcome calls. */
let main: LocalCloud;
let q: PipelineQueries;
beforeAll(() => {
  cloud = started();
  main = connect();
  q = pipelineQueries(cloud);
});

describe('under load', () => {
  test('200 customers created concurrently: 200 welcome calls, 200 archive objects, empty DLQs', async () => {
    const inputs = Array.from({ length: 200 }, () => newCustomerInput());
    const ids: string[] = [];
    // 25 requests at a time, like a busy client.
    for (let i = 0; i < inputs.length; i += 25) {
      const responses = await Promise.all(
        inputs.slice(i, i + 25).map((input) => callApi(cloud, 'POST', '/customers', input)),
      );
      for (const response of responses) {
        expect(response.status).toBe(201);
        ids.push((response.body as { id: string }).id);
      }
    }
    const calls = await eventually(
      '200 welcome calls',
      async () => {
        const all = await sinkCalls(main);
        return ids.map((id) => welcomeCallsFor(all, id).length);
      },
      (counts) => counts.every((n) => n >= 1),
      200_000,
    );
    expect(calls.every((n) => n === 1)).toBe(true);
    // One listing of the archive per look, not a request per customer: 200 requests every
    // quarter second would load the emulator the consumers share.
    const archived = await eventually(
      '200 archive objects',
      async () => {
        const byKey = await q.versionsByKey('customers/');
        return ids.map((id) => byKey.get(`customers/${id}.json`)?.length ?? 0);
      },
      (counts) => counts.every((n) => n >= 1),
      200_000,
    );
    expect(archived.every((n) => n === 1)).toBe(true);
    for (const url of q.deadLetterQueueUrls()) expect(await q.queueDepth(url)).toBe(0);
  });
});

describe('chaos: 5 % of every function’s AWS calls fail', () => {
  // Replay a failing run with CHAOS_SEED=<the seed in the failure message>.
  const seed = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 32));
  const ANSWERS_A_CLIENT_MAY_GET = [200, 201, 204, 404, 409, 412, 503];

  test(`100 customers created, opted out and half deleted at once: nothing lost, nothing twice (seed ${seed})`, async () => {
    const statuses: number[] = [];
    /** A client that retries what the API asks it to retry (503), as a client should. */
    const call = async (method: string, route: string, body?: unknown, ifMatch?: string) => {
      for (let attempt = 0; ; attempt += 1) {
        const response = await callApi(
          cloud,
          method,
          route,
          body,
          ifMatch === undefined ? {} : { 'if-match': ifMatch },
        );
        statuses.push(response.status);
        if (response.status !== 503 || attempt >= 5) return response;
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
      }
    };
    /** A write conditioned on what it last read, read again on 412. */
    const write = async (
      method: 'PUT' | 'DELETE',
      id: string,
      change?: Record<string, unknown>,
    ) => {
      for (;;) {
        const current = await call('GET', `/customers/${id}`);
        if (current.status !== 200) return current;
        const response = await call(
          method,
          `/customers/${id}`,
          change,
          current.headers.get('etag') ?? '',
        );
        if (response.status !== 412) return response;
      }
    };
    const inputs = Array.from({ length: 100 }, () => newCustomerInput({ marketingOptIn: true }));
    const ids: string[] = [];
    const deleted = new Set<string>();

    const startedAt = Date.now();
    await control(cloud, 'POST', '/faults', { kind: 'any', rate: 0.05, seed });
    try {
      // Ten clients, each taking the next customer through its life.
      let next = 0;
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          for (let i = next++; i < inputs.length; i = next++) {
            const created = await call('POST', '/customers', inputs[i]);
            if (created.status !== 201) continue;
            const { id } = created.body as { id: string };
            ids.push(id);
            const { fullName, email, dateOfBirth } = inputs[i] as Record<string, unknown>;
            await write('PUT', id, { fullName, email, dateOfBirth, marketingOptIn: false });
            if (i % 2 === 0) await write('DELETE', id);
          }
        }),
      );
    } finally {
      await control(cloud, 'DELETE', '/faults');
    }

    expect(statuses.filter((status) => !ANSWERS_A_CLIENT_MAY_GET.includes(status))).toEqual([]);
    expect(ids.length).toBeGreaterThan(90);
    // The faults were there: every kind, across the functions.
    const injected = (await functionCalls(cloud)).filter(
      (c) => c.fault !== undefined && c.startedAt >= startedAt,
    );
    expect(new Set(injected.map((c) => c.fault)).size).toBeGreaterThanOrEqual(5);
    expect(new Set(injected.map((c) => c.caller)).size).toBeGreaterThanOrEqual(3);
    // A delete answered 503 may still have happened (its answer lost): ask.
    for (const id of ids) {
      if ((await callApi(cloud, 'GET', `/customers/${id}`)).status === 404) deleted.add(id);
    }
    const kept = ids.filter((id) => !deleted.has(id));

    // Every kept customer welcomed.
    await eventually(
      'a welcome for every kept customer',
      async () => {
        const all = await sinkCalls(main);
        return kept.map((id) => welcomeCallsFor(all, id).filter((c) => c.status < 300).length);
      },
      (counts) => counts.every((n) => n >= 1),
      150_000,
    );
    // One welcome is one Idempotency-Key the provider accepted: a resend under the same key
    // (a retry after a lost answer) is the provider's duplicate, not a second welcome.
    const all = await sinkCalls(main);
    for (const id of ids) {
      const calls = welcomeCallsFor(all, id);
      const welcomes = new Set(calls.filter((c) => c.status < 300).map((c) => c.idempotencyKey));
      expect({ id, welcomes: welcomes.size }).toEqual({
        id,
        welcomes: deleted.has(id) ? expect.any(Number) : 1,
      });
      expect(new Set(calls.map((c) => c.idempotencyKey)).size).toBeLessThanOrEqual(1);
    }
    // The archive holds each customer's last change: the opt-out, or the tombstone. Each look
    // asks only about the customers not yet there; then once more about all of them.
    const lastChangeArchived = async (id: string) => {
      const head = await q.archiveHead(id);
      return deleted.has(id)
        ? head.state === 'tombstone'
        : head.state === 'customer' && head.version === '2';
    };
    const pending = new Set(ids);
    await eventually(
      'the archive to hold every last change',
      async () => {
        const looks = await Promise.all(
          [...pending].map(async (id) => [id, await lastChangeArchived(id)] as const),
        );
        for (const [id, archived] of looks) if (archived) pending.delete(id);
        return [...pending];
      },
      (left) => left.length === 0,
      150_000,
    );
    expect(await Promise.all(ids.map(lastChangeArchived))).toEqual(ids.map(() => true));
    // Nobody opted out or deleted keeps a contact: one listing of the contacts per look.
    await eventually(
      'no contact left',
      async () => {
        const byKey = await q.versionsByKey(CONTACTS_PREFIX, q.contactsBucket);
        return ids.filter((id) => (byKey.get(contactKey(id))?.length ?? 0) > 0);
      },
      (left) => left.length === 0,
      150_000,
    );
    const urls = q.deadLetterQueueUrls();
    expect(await Promise.all(urls.map(async (url) => [url, await q.queueDepth(url)]))).toEqual(
      urls.map((url) => [url, 0]),
    );
  });
});
