import { PublishBatchCommand, type PublishBatchCommandInput, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import type { CustomerEvent } from '../../lambda/shared/domain/events';
import { type Outgoing, publishInOrder } from '../../lambda/stream-publisher/sns-publisher';

// A FIFO topic (a `perCustomer` stage): each customer's events are a message group, and no
// event of a customer may reach SNS after a later one of that customer.

const FIFO_TOPIC = 'arn:aws:sns:eu-west-1:123456789012:customer-events.fifo';
const STANDARD_TOPIC = 'arn:aws:sns:eu-west-1:123456789012:customer-events';
const CUSTOMERS = {
  A: '0b9f6c1e-3f7a-4c2d-9e8b-00000000000a',
  B: '0b9f6c1e-3f7a-4c2d-9e8b-00000000000b',
};

const sns = mockClient(SNSClient);
afterEach(() => sns.reset());

/** Event `version` of customer `who`, at `position` in the stream batch. */
const outgoing = (position: number, who: keyof typeof CUSTOMERS, version: number): Outgoing => ({
  position,
  event: {
    eventId: `stream-event-${position}`,
    type: version === 1 ? 'CustomerCreated' : 'CustomerUpdated',
    occurredAt: '2025-01-01T00:00:00.000Z',
    version,
    customer: {
      id: CUSTOMERS[who],
      fullName: 'Ada Lovelace',
      email: `${who}@example.com`,
      dateOfBirth: '1815-12-10',
      marketingOptIn: false,
      createdAt: '2025-01-01T00:00:00.000Z',
      updatedAt: '2025-01-01T00:00:00.000Z',
      version,
    },
    marketingConsent: 'none',
  } satisfies CustomerEvent,
});

const calls = (): PublishBatchCommandInput[] =>
  sns.commandCalls(PublishBatchCommand).map((call) => call.args[0].input);
const idsPerCall = () => calls().map((input) => input.PublishBatchRequestEntries?.map((e) => e.Id));
const acceptAll = () =>
  sns.on(PublishBatchCommand).callsFake((input: PublishBatchCommandInput) => ({
    Successful: input.PublishBatchRequestEntries?.map((e) => ({ Id: e.Id })),
    Failed: [],
  }));

describe('publishInOrder to a FIFO topic', () => {
  test('groups each event by its customer and deduplicates it by its eventId', async () => {
    acceptAll();

    await publishInOrder(sns as unknown as SNSClient, FIFO_TOPIC, [
      outgoing(0, 'A', 1),
      outgoing(1, 'B', 1),
    ]);

    expect(calls()[0]?.PublishBatchRequestEntries).toEqual([
      expect.objectContaining({
        Id: '0',
        MessageGroupId: CUSTOMERS.A,
        MessageDeduplicationId: 'stream-event-0',
      }),
      expect.objectContaining({
        Id: '1',
        MessageGroupId: CUSTOMERS.B,
        MessageDeduplicationId: 'stream-event-1',
      }),
    ]);
  });

  test('never puts two events of one customer in one call, so a failed one cannot be overtaken', async () => {
    acceptAll();

    await publishInOrder(sns as unknown as SNSClient, FIFO_TOPIC, [
      outgoing(0, 'A', 1),
      outgoing(1, 'A', 2),
      outgoing(2, 'B', 1),
      outgoing(3, 'A', 3),
    ]);

    expect(idsPerCall()).toEqual([['0'], ['1', '2'], ['3']]);
  });

  test('after a customer’s event fails, sends nothing more: its later events wait for the retry', async () => {
    sns.on(PublishBatchCommand).resolves({
      Successful: [],
      Failed: [{ Id: '0', Code: 'InternalError', SenderFault: false }],
    });

    const { failure } = await publishInOrder(sns as unknown as SNSClient, FIFO_TOPIC, [
      outgoing(0, 'A', 1),
      outgoing(1, 'A', 2),
    ]);

    expect(failure).toEqual(expect.objectContaining({ position: 0 }));
    expect(idsPerCall()).toEqual([['0']]);
  });
});

describe('publishInOrder to a standard topic', () => {
  test('sends neither group nor deduplication id, and up to 10 events a call whoever they are', async () => {
    acceptAll();

    await publishInOrder(sns as unknown as SNSClient, STANDARD_TOPIC, [
      outgoing(0, 'A', 1),
      outgoing(1, 'A', 2),
    ]);

    expect(idsPerCall()).toEqual([['0', '1']]);
    for (const entry of calls()[0]?.PublishBatchRequestEntries ?? []) {
      expect(entry).not.toHaveProperty('MessageGroupId');
      expect(entry).not.toHaveProperty('MessageDeduplicationId');
    }
  });
});
