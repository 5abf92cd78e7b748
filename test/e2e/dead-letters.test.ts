import { PurgeQueueCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { callApi, control, deliveries } from 'cdk-local-cloud';
import { contactKey } from '../../lambda/shared/contract';
import {
  eventually,
  type LocalCloud,
  newCustomerInput,
  ownCloud,
  resourceNamed,
  runCommand,
  runDlq,
} from './local-cloud';
import {
  customerEvent,
  exactMarkers,
  exactVersions,
  type PipelineQueries,
  pipelineQueries,
} from './queries';

/**
 * Messages that fail: three receives, then the dead-letter queue, and the runbook's redrive.
 * On a cloud of its own, whose dead-letter queues hold only what these tests put there.
 */
jest.setTimeout(240_000);

/**
 * A consumer queue's visibility timeout, 181 s, shrunk to SQS's shortest, 1 s: each of the
 * three receives before the dead-letter queue is a second.
 */
const DEAD_LETTER_TIME_SCALE = '0.005';
const started = ownCloud('dead-letters', { timeScale: DEAD_LETTER_TIME_SCALE });
let cloud: LocalCloud;
let q: PipelineQueries;
beforeAll(() => {
  cloud = started();
  q = pipelineQueries(cloud);
});

describe('failures and dead letters', () => {
  test('a malformed message fails alone: three receives, then the DLQ; its batch-mates are processed; dlq redrive moves it back', async () => {
    const queue = resourceNamed(cloud, 'archive', 'queue');
    const dlq = resourceNamed(cloud, 'archive', 'dead-letter-queue');
    const good = [crypto.randomUUID(), crypto.randomUUID()].map((id) =>
      customerEvent(
        'CustomerCreated',
        {
          id,
          fullName: 'Batch Mate',
          email: `${id}@example.com`,
          dateOfBirth: '1990-05-17',
          marketingOptIn: false,
          createdAt: new Date().toISOString(),
          updatedAt: new Date().toISOString(),
          version: 1,
        },
        `manual-${id}`,
      ),
    );
    const sent = await cloud.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queue.ref,
        Entries: [
          { Id: 'good0', MessageBody: JSON.stringify(good[0]) },
          { Id: 'malformed', MessageBody: '{"this is": "not a customer event"' },
          { Id: 'good1', MessageBody: JSON.stringify(good[1]) },
        ],
      }),
    );
    const malformedId = sent.Successful?.find((s) => s.Id === 'malformed')?.MessageId ?? '';

    await eventually(
      'the malformed message in the DLQ',
      () => q.queueDepth(dlq.ref),
      (n) => n === 1,
    );
    const attempts = (await deliveries(cloud)).filter((d) => d.messageId === malformedId);
    // In receive order: at this time scale the visibility timeout is 1 s, and a batch slower
    // than that (a loaded machine) lets the next receive end before the last one's batch does,
    // as on SQS.
    const byReceive = [...attempts].sort((a, b) => a.receiveCount - b.receiveCount);
    expect(byReceive.map((d) => [d.receiveCount, d.outcome])).toEqual([
      [1, 'failed'],
      [2, 'failed'],
      [3, 'failed'],
    ]);
    for (const event of good) {
      const key = `customers/${event.customer.id}.json`;
      expect(exactVersions(await q.versionsOf(key), key)).toHaveLength(1);
    }

    const before = (await deliveries(cloud)).length;
    // As an operator runs it: `npm run dlq`'s own process (the other tests call the command in theirs).
    const redrive = await runCommand(cloud, 'ops/dlq.ts', 'redrive', 'archive');
    expect(redrive).toMatchObject({ code: 0, output: expect.stringMatching(/moved 1\b/) });
    expect(await q.queueDepth(dlq.ref)).toBe(0);
    // Back at its source and still malformed, it is received and failed again.
    await eventually(
      'the redriven message to fail again at its source',
      async () => (await deliveries(cloud)).slice(before),
      (ds) => ds.some((d) => d.queue === queue.logicalId && d.outcome === 'failed'),
    );
    await eventually(
      'it to return to the DLQ',
      () => q.queueDepth(dlq.ref),
      (n) => n === 1,
    );
    await cloud.sqs.send(new PurgeQueueCommand({ QueueUrl: dlq.ref }));
  });

  test('a creation stuck in the DLQs, redriven after an opt-out and the deletion, brings nothing back', async () => {
    const functionOf = (consumer: string) => resourceNamed(cloud, consumer, 'function').logicalId;
    const dlqOf = (consumer: string) => resourceNamed(cloud, consumer, 'dead-letter-queue').ref;
    for (const consumer of ['marketing', 'archive']) {
      await control(cloud, 'POST', '/faults', {
        caller: functionOf(consumer),
        service: 's3',
        mode: 'unreachable',
      });
    }
    let v1: { id: string; email: string };
    try {
      const created = await callApi(
        cloud,
        'POST',
        '/customers',
        newCustomerInput({ marketingOptIn: true }),
      );
      v1 = created.body as { id: string; email: string };
      for (const consumer of ['marketing', 'archive']) {
        await eventually(
          `the creation in the ${consumer} DLQ`,
          () => q.queueDepth(dlqOf(consumer)),
          (n) => n === 1,
        );
      }
    } finally {
      await control(cloud, 'DELETE', '/faults');
    }
    const optedOut = await callApi(
      cloud,
      'PUT',
      `/customers/${v1.id}`,
      { fullName: 'Opted Out', email: v1.email, dateOfBirth: '1990-05-17', marketingOptIn: false },
      { 'if-match': '"1"' },
    );
    expect(optedOut.status).toBe(200);
    await eventually(
      'the opt-out recorded',
      () => q.partitionItems(v1.id),
      (items) => items.some((item) => item.consent === 'revoked' && item.version === 2),
    );
    const deleted = await callApi(cloud, 'DELETE', `/customers/${v1.id}`, undefined, {
      'if-match': '"2"',
    });
    expect(deleted.status).toBe(204);
    await eventually(
      'the archive tombstone',
      () => q.archiveState(v1.id),
      (state) => state === 'tombstone',
    );

    const before = (await deliveries(cloud)).length;
    for (const consumer of ['marketing', 'archive']) {
      expect(await runDlq(cloud, 'redrive', consumer)).toMatchObject({
        code: 0,
        output: expect.stringMatching(/DeadLetterQueue\S* → .*: moved 1\b/),
      });
    }
    await eventually(
      'both redriven creations handled',
      async () => (await deliveries(cloud)).slice(before),
      (ds) => ds.filter((d) => d.outcome === 'succeeded').length >= 2,
    );

    const contact = contactKey(v1.id);
    const contactVersions = await q.contactVersionsOf(v1.id);
    expect([
      ...exactVersions(contactVersions, contact),
      ...exactMarkers(contactVersions, contact),
    ]).toEqual([]);
    expect(await q.archiveState(v1.id)).toBe('tombstone');
    const items = await q.partitionItems(v1.id);
    expect(items.map((item) => [item.sk, item.consent, item.deleted])).toEqual([
      ['MARKETING#CONSENT', 'revoked', true],
    ]);
    expect(items.every((item) => typeof item.expiresAt === 'number')).toBe(true);
    for (const consumer of ['marketing', 'archive']) {
      expect(await q.queueDepth(dlqOf(consumer))).toBe(0);
    }
  });
});
