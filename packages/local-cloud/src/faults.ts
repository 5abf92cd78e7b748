import { randomUUID } from 'node:crypto';

/**
 * The faults a function's AWS proxy can inject, what each looks like on the wire, and the
 * seeded randomness that picks them. What the AWS SDK v3 makes of each (its standard retry
 * strategy, @smithy/core's retry submodule: `getRetryErrorType` in middleware-retry,
 * `isThrottlingError`/`isTransientError` in service-error-classification; only THROTTLING
 * and TRANSIENT are retried):
 * - `Throttling`: ThrottlingException, ProvisionedThroughputExceededException and SlowDown
 *   are all in THROTTLING_ERROR_CODES: retried, after the longer throttling back-off.
 * - `InternalError`: status 500 (and 503) is in TRANSIENT_ERROR_STATUS_CODES: retried.
 * - `ResetBefore`/`ResetAfter`: the client sees ECONNRESET ("socket hang up") or EPIPE,
 *   both in NODEJS_TIMEOUT_ERROR_CODES: transient, retried. After `ResetAfter` the retry
 *   repeats a request that was already applied.
 * - `TransactionConflict`: TransactionCanceledException and TransactionConflictException
 *   are 400s without the retryable trait: CLIENT_ERROR, not retried; the caller decides.
 * - `Delay`: no error; the answer comes late.
 */

export const FAULT_KINDS = [
  'TransactionConflict',
  'Throttling',
  'InternalError',
  'ResetBefore',
  'ResetAfter',
  'Delay',
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];

/** The delay of a `Delay` fault that names none. */
export const DEFAULT_DELAY_MS = 1000;

/**
 * A fault rule: which of one function's calls it hits, and how often. With neither `rate`
 * nor `remaining`, every call it matches; with both, each at `rate` until `remaining` hit.
 */
export interface Fault {
  /** e.g. `dynamodb`, `streams.dynamodb`, `sqs`, `s3`. @default - every service */
  readonly service?: string;
  /** e.g. `TransactWriteItems`. @default - every operation */
  readonly operation?: string;
  /**
   * What happens to a call it hits; several (or `any`: every kind) are chosen among at
   * random per call, among those that apply to the call (`TransactionConflict` applies
   * only to DynamoDB's transactions and single-item writes; a call no kind applies to is
   * not hit).
   */
  readonly kind: FaultKind | 'any' | readonly FaultKind[];
  /** The probability that a matching call is hit, 0 to 1. @default - every matching call */
  readonly rate?: number;
  /** How many calls to hit. @default - no limit */
  readonly remaining?: number;
  /** How long `Delay` holds a call before forwarding it. @default 1000 */
  readonly delayMs?: number;
  /** Seeds the rule's `rate` and kind choices. @default - the proxy's seed */
  readonly seed?: number;
}

/** The protocol a call speaks, which decides how an injected error is spelled. */
export type Protocol = 'json' | 'query' | 'rest-xml';

export interface CallShape {
  readonly service: string;
  readonly operation: string;
  readonly protocol: Protocol;
}

/** mulberry32: a small, fast 32-bit PRNG; the same seed gives the same sequence. */
export const mulberry32 = (seed: number): (() => number) => {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

/** A seed to print, so that a run can be replayed with it. */
export const randomSeed = (): number => Math.floor(Math.random() * 2 ** 31);

/**
 * One stream per function (FNV-1a of the name, mixed into the seed): a function's n-th
 * call meets the same fate in every run with that seed, however its calls interleave with
 * other functions'.
 */
export const streamSeed = (seed: number, name: string): number => {
  let hash = 0x811c9dc5 ^ seed;
  for (let index = 0; index < name.length; index += 1) {
    hash = Math.imul(hash ^ name.charCodeAt(index), 0x01000193);
  }
  return hash >>> 0;
};

/** DynamoDB's item operations: throttled as ProvisionedThroughputExceededException. */
const DYNAMODB_DATA_PLANE = new Set([
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
  'BatchGetItem',
  'BatchWriteItem',
  'TransactGetItems',
  'TransactWriteItems',
  'ExecuteStatement',
  'BatchExecuteStatement',
  'ExecuteTransaction',
]);

/** Cancelled with a TransactionConflict reason when another transaction holds an item. */
const DYNAMODB_TRANSACTIONS = new Set(['TransactWriteItems', 'TransactGetItems']);

/** Refused with TransactionConflictException while a transaction holds the item. */
const DYNAMODB_SINGLE_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem']);

/** The protocols whose error shape is known here: AWS JSON, AWS query, S3's XML. */
const speaksErrors = ({ service, protocol }: CallShape): boolean =>
  protocol !== 'rest-xml' || service === 's3';

/** The kinds that can happen to this call, as AWS would let them. */
export const kindsFor = (call: CallShape): FaultKind[] =>
  FAULT_KINDS.filter((kind) => {
    switch (kind) {
      case 'TransactionConflict':
        return (
          call.service === 'dynamodb' &&
          (DYNAMODB_TRANSACTIONS.has(call.operation) || DYNAMODB_SINGLE_WRITES.has(call.operation))
        );
      case 'Throttling':
      case 'InternalError':
        return speaksErrors(call);
      default:
        return true;
    }
  });

/** An AWS error answer, before it is spelled in a protocol. */
export interface AwsError {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  /** Extra members of a JSON error body (`CancellationReasons`). */
  readonly extra?: Readonly<Record<string, unknown>>;
}

const INJECTED = '(injected by the local cloud)';

const isDynamoDb = (service: string) => service === 'dynamodb' || service === 'streams.dynamodb';

/** What AWS calls its 500 in each service's model. */
const internalErrorCode = (service: string): string => {
  if (isDynamoDb(service)) return 'InternalServerError';
  if (service === 's3' || service === 'sns') return 'InternalError';
  if (service === 'secretsmanager') return 'InternalServiceError';
  return 'InternalFailure';
};

/** How many items a DynamoDB transaction names: one cancellation reason each. */
const transactItemCount = (body: Buffer | undefined): number => {
  try {
    const items = (JSON.parse(body?.toString('utf8') ?? '') as { TransactItems?: unknown })
      .TransactItems;
    return Array.isArray(items) && items.length > 0 ? items.length : 1;
  } catch {
    return 1;
  }
};

/** Whether the error for this kind and call needs the request body (to count items). */
export const needsBody = (kind: FaultKind, call: CallShape): boolean =>
  kind === 'TransactionConflict' && DYNAMODB_TRANSACTIONS.has(call.operation);

/** The error AWS answers for an error kind, or undefined for a reset or a delay. */
export const errorFor = (
  kind: FaultKind,
  call: Omit<CallShape, 'protocol'>,
  body?: Buffer,
): AwsError | undefined => {
  switch (kind) {
    case 'TransactionConflict': {
      if (!DYNAMODB_TRANSACTIONS.has(call.operation)) {
        return {
          status: 400,
          code: 'TransactionConflictException',
          message: `Transaction is ongoing for the item ${INJECTED}`,
        };
      }
      // DynamoDB marks the item another transaction holds; the others were not evaluated.
      const reasons = Array.from({ length: transactItemCount(body) }, (_, index) =>
        index === 0
          ? { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' }
          : { Code: 'None' },
      );
      return {
        status: 400,
        code: 'TransactionCanceledException',
        message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map(({ Code }) => Code).join(', ')}] ${INJECTED}`,
        extra: { CancellationReasons: reasons },
      };
    }
    case 'Throttling':
      if (call.service === 's3') {
        return {
          status: 503,
          code: 'SlowDown',
          message: `Please reduce your request rate. ${INJECTED}`,
        };
      }
      if (call.service === 'dynamodb' && DYNAMODB_DATA_PLANE.has(call.operation)) {
        return {
          status: 400,
          code: 'ProvisionedThroughputExceededException',
          message: `The level of configured provisioned throughput for the table was exceeded. ${INJECTED}`,
        };
      }
      return { status: 400, code: 'ThrottlingException', message: `Rate exceeded ${INJECTED}` };
    case 'InternalError':
      return {
        status: 500,
        code: internalErrorCode(call.service),
        message: `We encountered an internal error. Please try again. ${INJECTED}`,
      };
    default:
      return undefined;
  }
};

export interface WireError {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | number>>;
  readonly body: string;
}

const xmlEscape = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The error as the call's protocol spells it, so the SDK parses it as AWS's own. */
export const spell = (error: AwsError, call: CallShape): WireError => {
  const requestId = randomUUID();
  const message = xmlEscape(error.message);
  let contentType: string;
  let body: string;
  if (call.protocol === 'json') {
    contentType = 'application/x-amz-json-1.0';
    body = JSON.stringify({
      __type: isDynamoDb(call.service)
        ? `com.amazonaws.dynamodb.v20120810#${error.code}`
        : error.code,
      // DynamoDB spells it Message; the SDK reads either.
      [isDynamoDb(call.service) ? 'Message' : 'message']: error.message,
      ...error.extra,
    });
  } else if (call.protocol === 'query') {
    contentType = 'text/xml';
    const type = error.status >= 500 ? 'Receiver' : 'Sender';
    body = `<ErrorResponse><Error><Type>${type}</Type><Code>${error.code}</Code><Message>${message}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
  } else {
    contentType = 'application/xml';
    body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${error.code}</Code><Message>${message}</Message><RequestId>${requestId}</RequestId></Error>`;
  }
  return {
    status: error.status,
    headers: {
      'content-type': contentType,
      'content-length': Buffer.byteLength(body),
      'x-amzn-requestid': requestId,
      'x-amz-request-id': requestId,
    },
    body,
  };
};

/** One line on what a fault did to a call, for the local cloud's output. */
export const describeFault = (
  kind: FaultKind,
  call: Omit<CallShape, 'protocol'> & { readonly status: number },
): string => {
  const error = errorFor(kind, call);
  if (error !== undefined) return `${kind}: ${error.code} ${error.status}`;
  if (kind === 'ResetBefore') return `${kind}: connection reset, not forwarded`;
  if (kind === 'ResetAfter') return `${kind}: applied (${call.status}), answer lost`;
  return `${kind} (${call.status})`;
};

/** What the proxy does to one call. */
export interface Injection {
  readonly kind: FaultKind;
  readonly delayMs: number;
}

interface ActiveRule {
  readonly fault: Fault;
  readonly kinds: readonly FaultKind[];
  readonly random: () => number;
  remaining: number;
}

/**
 * One function's fault rules, in the order they were added: a call meets the first rule
 * that matches it and fires.
 */
export class FaultInjector {
  private rules: ActiveRule[] = [];

  constructor(
    /** The function, so each function draws its own random stream. */
    private readonly caller: string,
    /** For rules that bring no seed of their own. */
    readonly seed: number,
  ) {}

  add(fault: Fault): void {
    if (fault.remaining !== undefined && !(fault.remaining > 0)) return;
    const kinds: readonly FaultKind[] =
      fault.kind === 'any'
        ? FAULT_KINDS
        : typeof fault.kind === 'string'
          ? [fault.kind]
          : fault.kind;
    this.rules.push({
      fault,
      kinds,
      random: mulberry32(streamSeed(fault.seed ?? this.seed, this.caller)),
      remaining: fault.remaining ?? Number.POSITIVE_INFINITY,
    });
  }

  clear(): void {
    this.rules = [];
  }

  /** The fault this call meets, if any, counted against its rule's budget. */
  take(call: CallShape): Injection | undefined {
    for (const rule of this.rules) {
      const { fault } = rule;
      if (fault.service !== undefined && fault.service !== call.service) continue;
      if (fault.operation !== undefined && fault.operation !== call.operation) continue;
      const applicable = kindsFor(call).filter((kind) => rule.kinds.includes(kind));
      if (applicable.length === 0) continue;
      if (fault.rate !== undefined && !(rule.random() < fault.rate)) continue;
      const kind =
        applicable.length === 1
          ? applicable[0]
          : applicable[Math.floor(rule.random() * applicable.length)];
      if (kind === undefined) continue;
      rule.remaining -= 1;
      if (rule.remaining <= 0) this.rules = this.rules.filter((item) => item !== rule);
      return { kind, delayMs: fault.delayMs ?? DEFAULT_DELAY_MS };
    }
    return undefined;
  }
}
