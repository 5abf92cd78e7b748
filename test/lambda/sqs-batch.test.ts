import { Logger } from '@aws-lambda-powertools/logger';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { customerEventHandler } from '../../lambda/shared/adapters/sqs-batch';
import type { CustomerEvent } from '../../lambda/shared/domain/events';
import { lambdaContext } from './lambda-context';
import { batch, eventRecord } from './sqs-fixtures';

const customer = (id: string) => ({
  id,
  fullName: 'Ada Lovelace',
  email: `${id}@example.com`,
  dateOfBirth: '1815-12-10',
  marketingOptIn: false,
  createdAt: '2025-01-01T00:00:00.000Z',
  updatedAt: '2025-01-01T00:00:00.000Z',
  version: 1,
});
const CUSTOMERS = {
  A: '0b9f6c1e-3f7a-4c2d-9e8b-1a2b3c4d5e6a',
  B: '0b9f6c1e-3f7a-4c2d-9e8b-1a2b3c4d5e6b',
};

/** Event `n` of customer `group`, as a FIFO subscription delivers it: its group is the customer. */
const fifoRecord = (group: keyof typeof CUSTOMERS, n: number): SQSRecord => {
  const event: CustomerEvent = {
    eventId: `${group}${n}`,
    type: 'CustomerUpdated',
    occurredAt: '2025-01-01T00:00:00.000Z',
    version: n,
    customer: { ...customer(CUSTOMERS[group]), version: n },
    marketingConsent: 'none',
  };
  const record = eventRecord(event);
  return {
    ...record,
    messageId: `${group}${n}`,
    eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:consumer.fifo',
    attributes: {
      ...record.attributes,
      MessageGroupId: CUSTOMERS[group],
      SequenceNumber: String(n),
    },
  };
};

beforeEach(() => {
  jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
});
afterEach(() => jest.restoreAllMocks());

describe('customerEventHandler on a FIFO queue', () => {
  test('a failure in customer A’s group fails the rest of A, in order, and nothing of B', async () => {
    const seen: string[] = [];
    const handler = customerEventHandler(
      async (event) => {
        seen.push(event.eventId);
        if (event.eventId === 'A3') throw new Error('A3 fails');
      },
      { logger: new Logger() },
    );

    const response = (await handler(
      batch(
        fifoRecord('A', 1),
        fifoRecord('A', 2),
        fifoRecord('A', 3),
        fifoRecord('B', 1),
        fifoRecord('A', 4),
        fifoRecord('B', 2),
      ),
      lambdaContext(),
    )) as SQSBatchResponse;

    // A4 is never handed to the consumer: it must not overtake A3, which SQS redelivers first.
    expect(seen).toEqual(['A1', 'A2', 'A3', 'B1', 'B2']);
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: 'A3' },
      { itemIdentifier: 'A4' },
    ]);
  });
});

describe('customerEventHandler on a standard queue', () => {
  test('fails only the record that failed, whatever its customer', async () => {
    const handler = customerEventHandler(
      async (event) => {
        if (event.eventId === 'A1') throw new Error('A1 fails');
      },
      { logger: new Logger() },
    );
    const standard = (record: SQSRecord) => ({
      ...record,
      eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:consumer',
    });

    const response = (await handler(
      batch(standard(fifoRecord('A', 1)), standard(fifoRecord('A', 2))),
      lambdaContext(),
    )) as SQSBatchResponse;

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'A1' }]);
  });
});
