import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { callApi, deliveries, stopLocalCloud } from 'cdk-local-cloud';
import { launchCustomerPipeline } from '../../local/launch';
import { E2E_TIME_SCALE } from './global-setup';
import {
  connect,
  eventually,
  type LocalCloud,
  newCustomerInput,
  resourceNamed,
} from './local-cloud';

/**
 * `ordering: perCustomer` on a cloud of its own, synthesized with `-c ordering=perCustomer`:
 * a FIFO topic and queues, each customer a message group. What each consumer did, and in
 * which order, is read from its function's log, one JSON line per event handled.
 */
jest.setTimeout(300_000);

let cloud: LocalCloud;
let child: ChildProcess | undefined;
let dir: string | undefined;
let workDir: string;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'customer-pipeline-ordering-'));
  const launched = await launchCustomerPipeline({
    dir,
    timeScale: E2E_TIME_SCALE,
    context: { ordering: 'perCustomer' },
    readyTimeoutMs: 180_000,
  });
  child = launched.child;
  workDir = launched.workDir;
  cloud = connect(launched.stateFile);
}, 200_000);
afterAll(async () => {
  if (child) await stopLocalCloud(child);
  if (dir && !process.env.KEEP_LOCAL_CLOUD_LOGS) fs.rmSync(dir, { recursive: true, force: true });
});

interface LogLine {
  readonly message?: string;
  readonly customerId?: string;
  readonly version?: number;
  readonly messageId?: string;
}

/** The lines `fn` (its folder's name) logged, in the order it wrote them. */
const logOf = (fn: string): LogLine[] => {
  const file = path.join(workDir, 'logs', `${resourceNamed(cloud, fn, 'function').logicalId}.log`);
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as LogLine];
      } catch {
        return [];
      }
    });
};

/** The versions of each customer's events `fn` handled, in the order it handled them. */
const handledVersions = (fn: string, message: string): Map<string, number[]> => {
  const byCustomer = new Map<string, number[]>();
  for (const line of logOf(fn)) {
    if (line.message !== message || line.customerId === undefined || line.version === undefined)
      continue;
    byCustomer.set(line.customerId, [...(byCustomer.get(line.customerId) ?? []), line.version]);
  }
  return byCustomer;
};

const UPDATES = 10;
const ALL_VERSIONS = Array.from({ length: UPDATES + 1 }, (_, i) => i + 1);

/** Creates a customer (opted in, so marketing gets every event) and updates it `updates` times. */
const liveCustomer = async (updates: number): Promise<{ id: string; etag: string }> => {
  const input = newCustomerInput({ marketingOptIn: true });
  const created = await callApi(cloud, 'POST', '/customers', input);
  expect(created.status).toBe(201);
  const { id } = created.body as { id: string };
  let etag = created.headers.get('etag') ?? '';
  for (let n = 1; n <= updates; n += 1) {
    const updated = await callApi(
      cloud,
      'PUT',
      `/customers/${id}`,
      { ...input, fullName: `Name ${n}` },
      {
        'if-match': etag,
      },
    );
    expect(updated.status).toBe(200);
    etag = updated.headers.get('etag') ?? '';
  }
  return { id, etag };
};

describe('ordering: perCustomer', () => {
  let customers: { id: string; etag: string }[];

  test('50 customers, each created and updated 10 times at once: archive and marketing handle each customer’s events once, in version order', async () => {
    customers = await Promise.all(Array.from({ length: 50 }, () => liveCustomer(UPDATES)));

    const everyEvent = (versions: Map<string, number[]>) =>
      customers.every(({ id }) => (versions.get(id)?.length ?? 0) >= ALL_VERSIONS.length);
    const archived = await eventually(
      'every event archived',
      async () => handledVersions('archive', 'archive updated'),
      everyEvent,
      200_000,
    );
    const marketed = await eventually(
      'every consent change handled',
      async () => handledVersions('marketing', 'consent change handled'),
      everyEvent,
      200_000,
    );
    for (const { id } of customers) {
      expect({ id, archive: archived.get(id) }).toEqual({ id, archive: ALL_VERSIONS });
      expect({ id, marketing: marketed.get(id) }).toEqual({ id, marketing: ALL_VERSIONS });
    }
    // Nothing handled twice, or late: the archive skipped no event as stale or a duplicate.
    expect(logOf('archive').filter((line) => line.message === 'archive unchanged')).toEqual([]);
  });

  test('a poisoned message holds back only its own customer’s later events, until it is in the DLQ', async () => {
    const [poisoned, other] = await Promise.all([liveCustomer(0), liveCustomer(0)]);
    await eventually(
      'both creations archived',
      async () => handledVersions('archive', 'archive updated'),
      (versions) => [poisoned, other].every(({ id }) => versions.get(id)?.includes(1)),
    );
    const archiveQueue = resourceNamed(cloud, 'archive', 'queue').ref;
    const poison = await cloud.sqs.send(
      new SendMessageCommand({
        QueueUrl: archiveQueue,
        MessageBody: '{"not":"an event"}',
        MessageGroupId: poisoned.id,
        MessageDeduplicationId: `poison-${poisoned.id}`,
      }),
    );
    const update = (customer: { id: string; etag: string }) =>
      callApi(
        cloud,
        'PUT',
        `/customers/${customer.id}`,
        {
          ...newCustomerInput({ marketingOptIn: true }),
          fullName: 'After the poison',
        },
        { 'if-match': customer.etag },
      );
    expect((await update(poisoned)).status).toBe(200);
    expect((await update(other)).status).toBe(200);

    await eventually(
      'the poisoned customer’s next event archived',
      async () => handledVersions('archive', 'archive updated').get(poisoned.id) ?? [],
      (versions) => versions.includes(2),
      120_000,
    );
    const lines = logOf('archive');
    const at = (accept: (line: LogLine) => boolean) => lines.findIndex(accept);
    const failures = lines.flatMap((line, i) =>
      line.message === 'record failed; SQS will redeliver it' && line.messageId === poison.MessageId
        ? [i]
        : [],
    );
    const poisonedNext = at(
      (l) => l.message === 'archive updated' && l.customerId === poisoned.id && l.version === 2,
    );
    const otherNext = at(
      (l) => l.message === 'archive updated' && l.customerId === other.id && l.version === 2,
    );
    // Three receives, then the DLQ; only then the poisoned customer's next event. The other
    // customer's went ahead meanwhile.
    // SQS's count of the poison's receives: three, each failed, then the DLQ.
    const poisonDeliveries = (await deliveries(cloud)).filter(
      (d) => d.messageId === poison.MessageId,
    );
    expect(poisonDeliveries.map((d) => [d.receiveCount, d.outcome])).toEqual([
      [1, 'failed'],
      [2, 'failed'],
      [3, 'failed'],
    ]);
    expect(failures).toHaveLength(3);
    expect(poisonedNext).toBeGreaterThan(failures[2] ?? Number.POSITIVE_INFINITY);
    expect(otherNext).toBeGreaterThan(-1);
    expect(otherNext).toBeLessThan(failures[2] ?? -1);
  });
});
