import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { callApi, control, deliveries, stopLocalCloud } from 'cdk-local-cloud';
import { launchCustomerPipeline } from '../../local/launch';
import { E2E_TIME_SCALE } from './global-setup';
import {
  connect,
  eventually,
  type LocalCloud,
  newCustomerInput,
  resourceNamed,
  runDlq,
} from './local-cloud';
import { pipelineQueries } from './queries';

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
  readonly timestamp?: string;
  readonly message?: string;
  readonly customerId?: string;
  readonly version?: number;
  readonly messageId?: string;
  readonly outcome?: string;
}

/**
 * The lines `fn` (its folder's name) logged, in the order it wrote them: by their timestamps, as
 * several environments of a function write to its one log, and a line can reach the file after
 * one another environment wrote later (the file's order is not the order of events).
 */
const logOf = (fn: string): LogLine[] => {
  const file = path.join(workDir, 'logs', `${resourceNamed(cloud, fn, 'function').logicalId}.log`);
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((line) => {
      try {
        const parsed = JSON.parse(line) as LogLine;
        return parsed.timestamp === undefined ? [] : [parsed];
      } catch {
        return [];
      }
    })
    .map((line) => ({ line, at: Date.parse(line.timestamp ?? '') }))
    .sort((a, b) => a.at - b.at)
    .map(({ line }) => line);
};

/**
 * The versions of each customer's events `fn` handled, in the order it handled them: the lines
 * logged as one of `messages` (and `accept`ed).
 */
const handledVersions = (
  fn: string,
  messages: readonly string[],
  accept: (line: LogLine) => boolean = () => true,
): Map<string, number[]> => {
  const byCustomer = new Map<string, number[]>();
  for (const line of logOf(fn)) {
    if (!messages.includes(line.message ?? '') || !accept(line)) continue;
    if (line.customerId === undefined || line.version === undefined) continue;
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

  test('50 customers, each created and updated 10 times at once: archive and marketing apply each customer’s events once, in version order', async () => {
    customers = await Promise.all(Array.from({ length: 50 }, () => liveCustomer(UPDATES)));

    const everyEvent = (versions: Map<string, number[]>) =>
      customers.every(({ id }) => (versions.get(id)?.length ?? 0) >= ALL_VERSIONS.length);
    const archived = await eventually(
      'every event archived',
      async () => handledVersions('archive', ['archive updated']),
      everyEvent,
      200_000,
    );
    // Applied by marketing: recorded, not found recorded already.
    const marketed = await eventually(
      'every consent change applied',
      async () =>
        handledVersions('marketing', ['consent change handled'], (l) => l.outcome === 'granted'),
      everyEvent,
      200_000,
    );
    // Everything each handled, applied or not: a message whose processing outlasts its
    // visibility timeout (3.6 s at this time scale, on a loaded machine) is received again, as
    // on SQS, and finds its version applied; no event comes after a later one.
    const archiveSeen = handledVersions('archive', ['archive updated', 'archive unchanged']);
    const marketingSeen = handledVersions('marketing', ['consent change handled']);
    const inOrder = (versions: readonly number[] = []) =>
      versions.every((version, i) => i === 0 || version >= (versions[i - 1] ?? 0));
    for (const { id } of customers) {
      expect({ id, archive: archived.get(id) }).toEqual({ id, archive: ALL_VERSIONS });
      expect({ id, marketing: marketed.get(id) }).toEqual({ id, marketing: ALL_VERSIONS });
      const seen = [archiveSeen.get(id), marketingSeen.get(id)];
      expect({ id, inOrder: seen.every((versions) => inOrder(versions)) }).toEqual({
        id,
        inOrder: true,
      });
    }
  });

  test('an archive outage sends a customer’s events to the FIFO DLQ in order; npm run dlq redrive puts them back in their group, and the archive applies them in version order', async () => {
    const q = pipelineQueries(cloud);
    const dlq = resourceNamed(cloud, 'archive', 'dead-letter-queue').ref;
    const archive = resourceNamed(cloud, 'archive', 'function').logicalId;
    expect(await q.queueDepth(dlq)).toBe(0);
    await control(cloud, 'POST', '/faults', {
      caller: archive,
      service: 's3',
      mode: 'unreachable',
    });
    let customer: { id: string };
    try {
      customer = await liveCustomer(2);
      await eventually(
        'its three events in the archive DLQ',
        () => q.queueDepth(dlq),
        (n) => n === 3,
        120_000,
      );
    } finally {
      await control(cloud, 'DELETE', '/faults');
    }
    expect(handledVersions('archive', ['archive updated']).get(customer.id)).toBeUndefined();

    const redriven = await runDlq(cloud, 'redrive', 'archive');

    expect(redriven.code).toBe(0);
    expect(redriven.output).toMatch(/archive queue DLQ \S+\.fifo → queue \S+\.fifo: moved 3\b/);
    expect(redriven.output).toMatch(
      /archive queue DLQ \S+: FIFO: each message went back in its group, under deduplication id redrive-<its message id>/,
    );
    const archived = await eventually(
      'the redriven events archived',
      async () => handledVersions('archive', ['archive updated']).get(customer.id) ?? [],
      (versions) => versions.length >= 3,
      120_000,
    );
    expect(archived).toEqual([1, 2, 3]);
    expect(await q.queueDepth(dlq)).toBe(0);
  });

  test('a poisoned message holds back only its own customer’s later events, until it is in the DLQ', async () => {
    const [poisoned, other] = await Promise.all([liveCustomer(0), liveCustomer(0)]);
    await eventually(
      'both creations archived',
      async () => handledVersions('archive', ['archive updated']),
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
      async () => handledVersions('archive', ['archive updated']).get(poisoned.id) ?? [],
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
    // Every receive of the poison failed, up to SQS's third (a receive whose answer a loaded
    // machine lost still counts, as on SQS), and it is in the DLQ; only then came the poisoned
    // customer's next event. The other customer's went ahead while the poison was retried.
    const poisonDeliveries = (await deliveries(cloud)).filter(
      (d) => d.messageId === poison.MessageId,
    );
    expect(poisonDeliveries.length).toBeGreaterThan(0);
    expect(poisonDeliveries.every((d) => d.outcome === 'failed' && d.receiveCount <= 3)).toBe(true);
    // Looked at, not taken: each look leaves the message visible for the next.
    const inDlq = await eventually(
      'the poison in the archive DLQ',
      async () =>
        (
          await cloud.sqs.send(
            new ReceiveMessageCommand({
              QueueUrl: resourceNamed(cloud, 'archive', 'dead-letter-queue').ref,
              MaxNumberOfMessages: 10,
              VisibilityTimeout: 0,
            }),
          )
        ).Messages ?? [],
      (messages) => messages.some((m) => m.Body === '{"not":"an event"}'),
      10_000,
    );
    expect(inDlq.map((m) => m.Body)).toContain('{"not":"an event"}');
    const lastFailure = failures.at(-1) ?? Number.POSITIVE_INFINITY;
    expect(failures.length).toBeGreaterThan(0);
    expect(poisonedNext).toBeGreaterThan(lastFailure);
    expect(otherNext).toBeGreaterThan(-1);
    expect(otherNext).toBeLessThan(lastFailure);
  });
});
