import { FullBatchFailureError } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { BusinessMetrics } from '../../lambda/shared/adapters/metrics';
import { customerEventHandler } from '../../lambda/shared/adapters/sqs-batch';
import type { CustomerEvent } from '../../lambda/shared/domain/events';
import { captureEmf, metricsEnvironment } from './emf';
import { lambdaContext } from './lambda-context';
import { batch, eventRecord, sqsRecord } from './sqs-fixtures';

metricsEnvironment('consumer');
const emf = captureEmf();

const throttled = () =>
  Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $fault: 'client' });

const handlerOf = (handle: (event: CustomerEvent) => Promise<void>) => {
  const logger = new Logger();
  return customerEventHandler(handle, { logger, metrics: new BusinessMetrics({ logger }) });
};

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

describe('customerEventHandler on a FIFO queue', () => {
  test('a failure in customer A’s group fails the rest of A, in order, and nothing of B', async () => {
    const seen: string[] = [];
    const handler = handlerOf(async (event) => {
      seen.push(event.eventId);
      if (event.eventId === 'A3') throw throttled();
    });

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
    // A3 by what it threw; A4 held behind it, never handed over.
    expect(emf.series()).toEqual([
      'RecordsFailed{service=consumer,FunctionVersion=7} 2 Count',
      'RecordsFailed{service=consumer,reason=Busy} 1 Count',
      'RecordsFailed{service=consumer,reason=HeldBehindFailure} 1 Count',
      'RecordsFailed{service=consumer} 2 Count',
      'RecordsReceived{service=consumer,FunctionVersion=7} 6 Count',
      'RecordsReceived{service=consumer} 6 Count',
    ]);
  });

  test('every record failing fails the invocation, and every record is counted failed', async () => {
    const handler = handlerOf(async (event) => {
      if (event.eventId === 'A1') throw throttled();
    });

    await expect(
      handler(batch(fifoRecord('A', 1), fifoRecord('A', 2)), lambdaContext()),
    ).rejects.toThrow(FullBatchFailureError);

    expect(emf.series()).toEqual([
      'RecordsFailed{service=consumer,FunctionVersion=7} 2 Count',
      'RecordsFailed{service=consumer,reason=Busy} 1 Count',
      'RecordsFailed{service=consumer,reason=HeldBehindFailure} 1 Count',
      'RecordsFailed{service=consumer} 2 Count',
      'RecordsReceived{service=consumer,FunctionVersion=7} 2 Count',
      'RecordsReceived{service=consumer} 2 Count',
    ]);
  });
});

describe('customerEventHandler on a standard queue', () => {
  test('fails only the record that failed, whatever its customer', async () => {
    const handler = handlerOf(async (event) => {
      if (event.eventId === 'A1') throw new Error('A1 fails');
    });
    const standard = (record: SQSRecord) => ({
      ...record,
      eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:consumer',
    });

    const response = (await handler(
      batch(standard(fifoRecord('A', 1)), standard(fifoRecord('A', 2))),
      lambdaContext(),
    )) as SQSBatchResponse;

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'A1' }]);
    expect(emf.series()).toEqual([
      'RecordsFailed{service=consumer,FunctionVersion=7} 1 Count',
      'RecordsFailed{service=consumer,reason=Unexpected} 1 Count',
      'RecordsFailed{service=consumer} 1 Count',
      'RecordsReceived{service=consumer,FunctionVersion=7} 2 Count',
      'RecordsReceived{service=consumer} 2 Count',
    ]);
  });

  test('a malformed message fails as Malformed; a batch that all succeeds counts no failure', async () => {
    const handler = handlerOf(async () => undefined);

    await handler(batch(sqsRecord('junk', 'not json'), fifoRecord('A', 1)), lambdaContext());
    expect(emf.series()).toEqual([
      'RecordsFailed{service=consumer,FunctionVersion=7} 1 Count',
      'RecordsFailed{service=consumer,reason=Malformed} 1 Count',
      'RecordsFailed{service=consumer} 1 Count',
      'RecordsReceived{service=consumer,FunctionVersion=7} 2 Count',
      'RecordsReceived{service=consumer} 2 Count',
    ]);

    const before = emf.documents().length;
    await handler(
      batch(sqsRecord('ok', JSON.stringify(JSON.parse(fifoRecord('B', 1).body)))),
      lambdaContext(),
    );
    expect(emf.documents().slice(before)).toEqual([
      expect.objectContaining({ RecordsReceived: 1 }),
    ]);
    expect(emf.documents().slice(before)[0]).not.toHaveProperty('RecordsFailed');
  });
});
