import type { Logger } from '@aws-lambda-powertools/logger';
import {
  CANARY_METRICS,
  type FailureReason,
  METRIC_DIMENSIONS,
  METRICS,
  type MetricName,
} from '../contract';
import { TemporarilyUnavailable } from '../domain/errors';
import { classifyDynamoError } from './dynamodb-errors';

/*
 * The business metrics (contract.ts), written in CloudWatch's embedded metric format (EMF), one
 * JSON document per line on stdout. Written here rather than through Powertools Metrics: the
 * bench measured Powertools Metrics at 9.4 ms more per cold start than these same lines (load
 * and first publish; issue 17's limit was 5 ms). Straight to process.stdout, as Powertools does,
 * not through the Logger: Lambda's JSON log format wraps what `console` writes (CloudWatch would
 * not find the EMF inside), and a log level must never drop a metric. A handler counts; at the
 * end of each invocation `publish` writes at most:
 * - one line of the metrics counted, with the dimension set [service];
 * - one line of the canary's metrics (CANARY_METRICS), with [service] and
 *   [service, FunctionVersion]: only they carry the version (each set is a billed metric,
 *   and a version lives one deploy);
 * - one line per failure reason counted, RecordsFailed with [service, reason], so the
 *   total the canary reads stays one series per version.
 * Each value is the invocation's sum (one datapoint, not one per record), each unit a Count.
 */

/** What a handler counts; RecordsFailed only through `recordsFailed`, which needs a reason. */
export type CountedMetric = Exclude<MetricName, typeof METRICS.recordsFailed>;

export interface BusinessMetricsOptions {
  /** Where a failure to publish is logged. */
  readonly logger: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
  /** @default - `AWS_LAMBDA_FUNCTION_VERSION` when the invocation publishes, else `$LATEST` */
  readonly functionVersion?: () => string;
  /** Writes one EMF document. @default - a line on process.stdout */
  readonly write?: (document: string) => void;
}

/** Powertools' names, which the infrastructure sets (and POWERTOOLS_METRICS_DISABLED its switch). */
const namespaceOf = (env: NodeJS.ProcessEnv): string =>
  env.POWERTOOLS_METRICS_NAMESPACE || 'default_namespace';
const disabled = (env: NodeJS.ProcessEnv): boolean =>
  env.POWERTOOLS_METRICS_DISABLED === 'true' ||
  (env.POWERTOOLS_DEV === 'true' && env.POWERTOOLS_METRICS_DISABLED !== 'false');

const toStdout = (document: string): void => {
  process.stdout.write(`${document}\n`);
};

const canary = new Set<MetricName>(CANARY_METRICS);

const lambdaVersion = (): string => process.env.AWS_LAMBDA_FUNCTION_VERSION || '$LATEST';

/** The class of an HTTP status: 204 → `Answers2xx`. */
const ANSWERS: Readonly<Record<number, CountedMetric>> = {
  2: METRICS.answers2xx,
  3: METRICS.answers3xx,
  4: METRICS.answers4xx,
  5: METRICS.answers5xx,
};

/**
 * One per function, made at module scope. Counting never throws; `publish` never throws, and
 * writes nothing (and Powertools warns of nothing) when nothing was counted.
 */
export class BusinessMetrics {
  readonly #logger: BusinessMetricsOptions['logger'];
  readonly #functionVersion: () => string;
  readonly #write: (document: string) => void;
  readonly #namespace = namespaceOf(process.env);
  readonly #service = process.env.POWERTOOLS_SERVICE_NAME || 'service_undefined';
  readonly #disabled = disabled(process.env);
  readonly #counts = new Map<CountedMetric, number>();
  readonly #failures = new Map<FailureReason, number>();

  constructor({
    logger,
    functionVersion = lambdaVersion,
    write = toStdout,
  }: BusinessMetricsOptions) {
    this.#logger = logger;
    this.#functionVersion = functionVersion;
    this.#write = write;
  }

  count(name: CountedMetric, value = 1): void {
    if (value > 0) this.#counts.set(name, (this.#counts.get(name) ?? 0) + value);
  }

  /** `value` records reported failed (or given up on) for `reason`. */
  recordsFailed(reason: FailureReason, value = 1): void {
    if (value > 0) this.#failures.set(reason, (this.#failures.get(reason) ?? 0) + value);
  }

  /** An HTTP answer, counted by its status class. */
  answered(statusCode: number): void {
    const name = ANSWERS[Math.floor(statusCode / 100)];
    if (name !== undefined) this.count(name);
  }

  /** `pending`'s answer, counted by its status class once it is known (API Gateway's 200 if none). */
  async answer<R extends { readonly statusCode?: number }>(pending: Promise<R>): Promise<R> {
    const response = await pending;
    this.answered(response.statusCode ?? 200);
    return response;
  }

  /** Writes what was counted since the last publish, and forgets it. */
  publish(): void {
    const counted = new Map<MetricName, number>(this.#counts);
    const failures = [...this.#failures];
    this.#counts.clear();
    this.#failures.clear();
    if (this.#disabled) return;
    try {
      const total = failures.reduce((sum, [, n]) => sum + n, 0);
      if (total > 0) counted.set(METRICS.recordsFailed, total);
      const plain = [...counted].filter(([name]) => !canary.has(name));
      const versioned = [...counted].filter(([name]) => canary.has(name));
      this.#document(plain, {});
      this.#document(versioned, {
        [METRIC_DIMENSIONS.functionVersion]: this.#functionVersion(),
      });
      for (const [reason, n] of failures) {
        this.#document([[METRICS.recordsFailed, n]], { [METRIC_DIMENSIONS.reason]: reason });
      }
    } catch (error) {
      this.#logger.warn('business metrics not published', { error });
    }
  }

  /** `handler`, publishing when each invocation ends, however it ends. */
  publishing<A extends unknown[], R>(handler: (...args: A) => Promise<R>) {
    return async (...args: A): Promise<R> => {
      try {
        return await handler(...args);
      } finally {
        this.publish();
      }
    };
  }

  /**
   * One EMF document of `values`, each a Count, under `[service]` and, when `dimension` names one,
   * `[service, <that dimension>]` as well; except for a failure reason, whose set replaces
   * `[service]`, so RecordsFailed's per-service total is never counted twice.
   */
  #document(
    values: readonly (readonly [MetricName, number])[],
    dimension: Readonly<Record<string, string>>,
  ): void {
    if (values.length === 0) return;
    const [extra] = Object.keys(dimension);
    const service = METRIC_DIMENSIONS.service;
    const dimensions =
      extra === undefined
        ? [[service]]
        : extra === METRIC_DIMENSIONS.reason
          ? [[service, extra]]
          : [[service], [service, extra]];
    this.#write(
      JSON.stringify({
        _aws: {
          Timestamp: Date.now(),
          CloudWatchMetrics: [
            {
              Namespace: this.#namespace,
              Dimensions: dimensions,
              Metrics: values.map(([name]) => ({ Name: name, Unit: 'Count' })),
            },
          ],
        },
        [service]: this.#service,
        ...dimension,
        ...Object.fromEntries(values),
      }),
    );
  }
}

// ---- Why a record failed ------------------------------------------------------------------

interface ErrorLike {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly $fault?: unknown;
  readonly $retryable?: { readonly throttling?: boolean };
  readonly status?: unknown;
  readonly cause?: unknown;
}

/** Messages this code cannot read: ours, by the name each sets. */
const MALFORMED = new Set(['MalformedMessage', 'MalformedNotification']);

/**
 * Over a limit, or racing another writer, in S3, SNS, Secrets Manager and DynamoDB's batch
 * reads (DynamoDB's own codes: `classifyDynamoError`). S3's conditional writes (the archive's)
 * fail PreconditionFailed or ConditionalRequestConflict when another write got there first.
 */
const BUSY = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'Throttled',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'KMSThrottlingException',
  'PreconditionFailed',
  'ConditionalRequestConflict',
  'UnprocessedRead',
]);

/** A service or the provider not answering: the SDK's and our own timeouts, lost connections. */
const UNAVAILABLE = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'ServiceUnavailable',
  'InternalError',
  'NotificationTimedOut',
  'NotificationInterrupted',
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

const classify = (error: unknown, depth: number): FailureReason | undefined => {
  if (typeof error !== 'object' || error === null) return undefined;
  const { name, code, $fault, $retryable, status, cause } = error as ErrorLike;
  if (typeof name === 'string' && MALFORMED.has(name)) return 'Malformed';
  if (name === 'WelcomeInFlight') return 'InFlight';
  if (error instanceof TemporarilyUnavailable) {
    // DynamoDB busy through the retries, or failing (5xx) after the SDK's.
    return classify(cause, depth + 1) === 'Unavailable' ? 'Unavailable' : 'Busy';
  }
  if (name === 'NotificationFailed' && typeof status === 'number') {
    if (status === 429) return 'Busy';
    if (status >= 500) return 'Unavailable';
    return undefined;
  }
  const dynamo = classifyDynamoError(error).kind;
  if (dynamo === 'conflict' || dynamo === 'throttled') return 'Busy';
  if (typeof name === 'string' && BUSY.has(name)) return 'Busy';
  if ($retryable?.throttling === true) return 'Busy';
  if ($fault === 'server') return 'Unavailable';
  if (typeof name === 'string' && UNAVAILABLE.has(name)) return 'Unavailable';
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return 'Unavailable';
  // A wrapper (Powertools' GetParameterError around the SDK's) is what it wraps.
  return depth < 3 ? classify(cause, depth + 1) : undefined;
};

/** The `reason` of a record that threw `error`: the one place failures are classified. */
export const failureReason = (error: unknown): FailureReason => classify(error, 0) ?? 'Unexpected';
