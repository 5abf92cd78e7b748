/**
 * The objects of the publisher's failure bucket, written by Lambda and by the function, and
 * read back by `npm run dlq -- replay`.
 *
 * Lambda's, for a DynamoDB stream with an S3 on-failure destination: the invocation record
 * (requestContext, responseContext, version, timestamp, DDBStreamBatchInfo) and `payload`,
 * "the original invocation record as an escaped JSON string": the event the function was
 * given, `{"Records": [...]}`. Keys are
 * `aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>`.
 * (https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html)
 *
 * The function's own, for a record it can never publish: the same shape, with condition
 * `Unpublishable`, a `reason` (paths and codes, never values), no shardId (a function is not
 * told it), and the one record in `payload`; keyed `unpublishable/<sequence number>`, so a
 * retried batch writes the same object again rather than a second one.
 */
import type { DynamoDBRecord } from 'aws-lambda';
import * as z from 'zod/mini';
import { unpublishableKey } from '../shared/contract';

export const UNPUBLISHABLE_CONDITION = 'Unpublishable';

const batchInfoSchema = z.object({
  shardId: z.optional(z.string()),
  startSequenceNumber: z.optional(z.string()),
  endSequenceNumber: z.optional(z.string()),
  approximateArrivalOfFirstRecord: z.optional(z.string()),
  approximateArrivalOfLastRecord: z.optional(z.string()),
  batchSize: z.optional(z.number()),
  streamArn: z.optional(z.string()),
});

const failureObjectSchema = z.looseObject({
  requestContext: z.optional(
    z.looseObject({
      condition: z.optional(z.string()),
      approximateInvokeCount: z.optional(z.number()),
    }),
  ),
  timestamp: z.optional(z.string()),
  DDBStreamBatchInfo: z.optional(batchInfoSchema),
  reason: z.optional(z.string()),
  payload: z.optional(z.string()),
});

/** Stream records as Lambda hands them over; each is read by `readStreamRecord` later. */
const payloadSchema = z.object({ Records: z.array(z.looseObject({})) });

export interface FailureObject {
  /** `RetryAttemptsExhausted`, `RecordAgeExceeded`, `Unpublishable`, … */
  readonly condition?: string;
  readonly timestamp?: string;
  readonly batchInfo?: z.infer<typeof batchInfoSchema>;
  readonly reason?: string;
  /** `undefined` when the object holds the invocation record only (no payload). */
  readonly records?: readonly DynamoDBRecord[];
}

/** The object is not a failure record this code can read; the message never quotes it. */
export class UnreadableFailureObject extends Error {
  constructor(reason: string) {
    super(`not a stream failure record: ${reason}`);
    this.name = 'UnreadableFailureObject';
  }
}

const parseJson = (text: string, what: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    throw new UnreadableFailureObject(`${what} is not JSON`);
  }
};

export const readFailureObject = (body: string): FailureObject => {
  const parsed = failureObjectSchema.safeParse(parseJson(body, 'the object'));
  if (!parsed.success) {
    const paths = parsed.error.issues.map((issue) => issue.path.join('.') || '(root)');
    throw new UnreadableFailureObject(`unexpected ${[...new Set(paths)].join(', ')}`);
  }
  const { requestContext, timestamp, DDBStreamBatchInfo, reason, payload } = parsed.data;
  let records: DynamoDBRecord[] | undefined;
  if (payload !== undefined) {
    const event = payloadSchema.safeParse(parseJson(payload, 'its payload'));
    if (!event.success) throw new UnreadableFailureObject('its payload has no Records list');
    records = event.data.Records as DynamoDBRecord[];
  }
  return {
    condition: requestContext?.condition,
    timestamp,
    batchInfo: DDBStreamBatchInfo,
    reason,
    records,
  };
};

export interface InvocationContext {
  readonly awsRequestId: string;
  readonly invokedFunctionArn: string;
  readonly functionVersion: string;
}

const arrivalOf = (record: DynamoDBRecord, now: Date): string => {
  const seconds = record.dynamodb?.ApproximateCreationDateTime;
  return (seconds === undefined ? now : new Date(seconds * 1000)).toISOString();
};

/** The key and body the function writes for a record it can never publish. */
export const unpublishableObject = (
  record: DynamoDBRecord,
  reason: string,
  context: InvocationContext,
  now: Date,
): { readonly key: string; readonly body: string } => {
  const sequenceNumber = record.dynamodb?.SequenceNumber;
  // A record without a sequence number breaks the stream's contract; it still gets a key.
  const name = sequenceNumber || record.eventID || crypto.randomUUID();
  const arrival = arrivalOf(record, now);
  const body = {
    requestContext: {
      requestId: context.awsRequestId,
      functionArn: context.invokedFunctionArn,
      condition: UNPUBLISHABLE_CONDITION,
      approximateInvokeCount: 1,
    },
    responseContext: {
      statusCode: 200,
      executedVersion: context.functionVersion,
      functionError: '',
    },
    version: '1.0',
    timestamp: now.toISOString(),
    DDBStreamBatchInfo: {
      startSequenceNumber: sequenceNumber,
      endSequenceNumber: sequenceNumber,
      approximateArrivalOfFirstRecord: arrival,
      approximateArrivalOfLastRecord: arrival,
      batchSize: 1,
      streamArn: record.eventSourceARN,
    },
    reason,
    payload: JSON.stringify({ Records: [record] }),
  };
  return { key: unpublishableKey(name), body: JSON.stringify(body) };
};
