import { TemporarilyUnavailable } from '../domain/errors';

/**
 * What a failed DynamoDB call means for its caller, decided in one place:
 * - `conditional`: a condition was false (for a transaction, at these item positions);
 *   the answer is the caller's (409, 412, "stale").
 * - `conflict`: another transaction held an item; nothing was written, try again.
 * - `throttled`: over a limit; nothing was written, try again after a pause.
 * - `transient`: DynamoDB failed (5xx) after the SDK's own retries; try again later.
 * - `permanent`: a bug or a misconfiguration (validation, access, missing table).
 */
export type DynamoFailure =
  | { readonly kind: 'conditional'; readonly failed: ReadonlySet<number> }
  | { readonly kind: 'conflict' | 'throttled' | 'transient' | 'permanent' };

interface AwsError {
  readonly name?: string;
  readonly $fault?: string;
  readonly CancellationReasons?: readonly { readonly Code?: string }[];
}

const THROTTLING = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
]);
const CONFLICT = new Set([
  'TransactionConflictException',
  'TransactionInProgressException',
  'ReplicatedWriteConflictException',
]);
const THROTTLED_REASONS = new Set(['ThrottlingError', 'ProvisionedThroughputExceeded']);

export const classifyDynamoError = (error: unknown): DynamoFailure => {
  const { name = '', $fault, CancellationReasons } = (error ?? {}) as AwsError;
  if (name === 'TransactionCanceledException') {
    const codes = (CancellationReasons ?? []).map((reason) => reason.Code ?? 'None');
    // A false condition is the answer, whatever else was cancelled with it.
    const failed = codes.flatMap((code, index) =>
      code === 'ConditionalCheckFailed' ? [index] : [],
    );
    if (failed.length > 0) return { kind: 'conditional', failed: new Set(failed) };
    if (codes.includes('TransactionConflict')) return { kind: 'conflict' };
    if (codes.some((code) => THROTTLED_REASONS.has(code))) return { kind: 'throttled' };
    return { kind: 'permanent' };
  }
  if (name === 'ConditionalCheckFailedException')
    return { kind: 'conditional', failed: new Set([0]) };
  if (CONFLICT.has(name)) return { kind: 'conflict' };
  if (THROTTLING.has(name)) return { kind: 'throttled' };
  if ($fault === 'server') return { kind: 'transient' };
  return { kind: 'permanent' };
};

export interface RetryOptions {
  /** Attempts in all, the first included. @default 3 */
  readonly attempts?: number;
  /** The first pause's upper bound; each next one doubles, up to `maxDelayMs`. @default 50 */
  readonly baseDelayMs?: number;
  /** @default 400 */
  readonly maxDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** How long a client should wait before it tries again, when DynamoDB is busy. */
export const RETRY_AFTER_SECONDS = 1;

/**
 * Runs `write`, retrying conflicts and throttling with full jitter (the three attempts
 * take well under a second, far inside an API function's 10 s). A write that failed
 * that way wrote nothing, so it is safe to repeat. When the attempts run out, or
 * DynamoDB itself failed after the SDK's own retries, it throws `TemporarilyUnavailable`;
 * any other error (a false condition above all) is the caller's to map.
 */
export const withDynamoRetries = async <T>(
  write: () => Promise<T>,
  {
    attempts = 3,
    baseDelayMs = 50,
    maxDelayMs = 400,
    sleep = sleepFor,
    random = Math.random,
  }: RetryOptions = {},
): Promise<T> => {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      const { kind } = classifyDynamoError(error);
      const retryable = kind === 'conflict' || kind === 'throttled';
      if (retryable && attempt < attempts) {
        await sleep(random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)));
        continue;
      }
      if (retryable || kind === 'transient') {
        throw new TemporarilyUnavailable(RETRY_AFTER_SECONDS, { cause: error });
      }
      throw error;
    }
  }
};

/** For a read: the SDK has retried already, so a busy or failing DynamoDB is a 503 now. */
export const unavailableIfBusy = async <T>(read: () => Promise<T>): Promise<T> => {
  try {
    return await read();
  } catch (error) {
    const { kind } = classifyDynamoError(error);
    if (kind === 'conflict' || kind === 'throttled' || kind === 'transient') {
      throw new TemporarilyUnavailable(RETRY_AFTER_SECONDS, { cause: error });
    }
    throw error;
  }
};
