import {
  ConditionalCheckFailedException,
  InternalServerError,
  ProvisionedThroughputExceededException,
  TransactionCanceledException,
  TransactionConflictException,
} from '@aws-sdk/client-dynamodb';
import {
  classifyDynamoError,
  unavailableIfBusy,
  withDynamoRetries,
} from '../../lambda/shared/adapters/dynamodb-errors';
import { TemporarilyUnavailable } from '../../lambda/shared/domain/errors';

const $metadata = {};
const cancelled = (...codes: string[]) =>
  new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata,
    CancellationReasons: codes.map((Code) => ({ Code })),
  });

describe('classifyDynamoError', () => {
  it.each([
    [
      'a false condition in a transaction, at its positions',
      cancelled('None', 'ConditionalCheckFailed'),
      'conditional',
    ],
    [
      'a false condition next to a conflict (the condition is the answer)',
      cancelled('ConditionalCheckFailed', 'TransactionConflict'),
      'conditional',
    ],
    ['a transaction conflict', cancelled('None', 'TransactionConflict'), 'conflict'],
    ['a throttled transaction', cancelled('ThrottlingError', 'None'), 'throttled'],
    ['any other cancellation', cancelled('ValidationError'), 'permanent'],
    [
      'a false condition of a single write',
      new ConditionalCheckFailedException({ message: 'no', $metadata }),
      'conditional',
    ],
    [
      'a write conflicting with a transaction',
      new TransactionConflictException({ message: 'no', $metadata }),
      'conflict',
    ],
    [
      'throttling',
      new ProvisionedThroughputExceededException({ message: 'no', $metadata }),
      'throttled',
    ],
    ["DynamoDB's own failure", new InternalServerError({ message: 'no', $metadata }), 'transient'],
    ['anything else', new Error('bug'), 'permanent'],
  ])('calls %s %s', (_, error, kind) => {
    expect(classifyDynamoError(error).kind).toBe(kind);
  });

  it('names the failed positions of a transaction', () => {
    const failure = classifyDynamoError(
      cancelled('ConditionalCheckFailed', 'None', 'ConditionalCheckFailed'),
    );
    expect(failure).toEqual({ kind: 'conditional', failed: new Set([0, 2]) });
  });
});

describe('withDynamoRetries', () => {
  const pauses: number[] = [];
  const options = { sleep: async (ms: number) => void pauses.push(ms), random: () => 1 };
  beforeEach(() => {
    pauses.length = 0;
  });

  it('pauses with exponential, capped, jittered backoff between attempts, then gives up with TemporarilyUnavailable', async () => {
    const write = jest.fn().mockRejectedValue(cancelled('TransactionConflict'));

    const attempt = withDynamoRetries(write, { ...options, attempts: 5, maxDelayMs: 150 });

    await expect(attempt).rejects.toBeInstanceOf(TemporarilyUnavailable);
    expect(write).toHaveBeenCalledTimes(5);
    expect(pauses).toEqual([50, 100, 150, 150]);
  });

  it('draws each pause at random below its bound (full jitter)', async () => {
    const write = jest
      .fn()
      .mockRejectedValueOnce(cancelled('TransactionConflict'))
      .mockResolvedValue('ok');

    await expect(withDynamoRetries(write, { ...options, random: () => 0.25 })).resolves.toBe('ok');
    expect(pauses).toEqual([12.5]);
  });

  it('never repeats a write whose condition was false, nor one that failed for good', async () => {
    for (const error of [cancelled('ConditionalCheckFailed'), new Error('bug')]) {
      const write = jest.fn().mockRejectedValue(error);
      await expect(withDynamoRetries(write, options)).rejects.toBe(error);
      expect(write).toHaveBeenCalledTimes(1);
    }
  });

  it("answers DynamoDB's own failure with TemporarilyUnavailable at once: the SDK retried it already", async () => {
    const write = jest
      .fn()
      .mockRejectedValue(new InternalServerError({ message: 'no', $metadata }));

    await expect(withDynamoRetries(write, options)).rejects.toBeInstanceOf(TemporarilyUnavailable);
    expect(write).toHaveBeenCalledTimes(1);
  });
});

describe('unavailableIfBusy', () => {
  it('turns a busy store into TemporarilyUnavailable, keeping the cause, and lets other errors through', async () => {
    const throttled = new ProvisionedThroughputExceededException({ message: 'no', $metadata });
    await expect(unavailableIfBusy(() => Promise.reject(throttled))).rejects.toMatchObject({
      name: 'TemporarilyUnavailable',
      retryAfterSeconds: 1,
      cause: throttled,
    });
    const bug = new Error('bug');
    await expect(unavailableIfBusy(() => Promise.reject(bug))).rejects.toBe(bug);
  });
});
