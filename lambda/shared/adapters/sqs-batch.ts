import {
  BatchProcessor,
  EventType,
  FullBatchFailureError,
  processPartialResponse,
  SqsFifoPartialProcessorAsync,
} from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type * as z from 'zod/mini';
import { type FailureReason, METRICS } from '../contract';
import { type CustomerEvent, customerEventSchema } from '../domain/events';
import { type BusinessMetrics, failureReason } from './metrics';

/** A message that is not a customer event: it fails, is retried, and ends in the dead-letter queue. */
export class MalformedMessage extends Error {
  constructor(
    readonly messageId: string,
    reason: string,
  ) {
    super(`message ${messageId} is not a customer event: ${reason}`);
    this.name = 'MalformedMessage';
  }
}

/**
 * A message body parsed as JSON and checked against `schema`; otherwise `malformed(reason)` is
 * thrown, the reason naming what is wrong (not JSON, or the invalid fields), never the body's
 * content (it may hold personal data).
 */
export const parseJsonBody = <T extends z.ZodMiniType>(
  body: string,
  schema: T,
  malformed: (reason: string) => Error,
): z.output<T> => {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw malformed('the body is not JSON');
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const fields = result.error.issues.map((issue) => issue.path.join('.') || '(root)');
    throw malformed(`invalid ${[...new Set(fields)].join(', ')}`);
  }
  return result.data;
};

/** The event carried by a record. SNS delivers raw, so the body is the event itself. */
export const parseCustomerEvent = (record: SQSRecord): CustomerEvent =>
  parseJsonBody(
    record.body,
    customerEventSchema,
    (reason) => new MalformedMessage(record.messageId, reason),
  );

export interface CustomerEventHandlerOptions {
  /** Given each invocation's Lambda context, so every line it logs names the request. */
  readonly logger: Logger;
  /** Counts the records (`sqsBatchProcessor`) and publishes when each invocation ends. */
  readonly metrics: BusinessMetrics;
  /**
   * Run the batch's records concurrently. Turn it off where two events of one
   * customer in the same batch must not interleave their effects.
   * @default true
   */
  readonly processInParallel?: boolean;
}

/** What a consumer may know of a record's delivery besides its event. */
export interface Delivery {
  /**
   * How many times SQS has handed this message out, this one included. Above 1, every
   * earlier attempt at it is over: SQS hands a message out again only after its visibility
   * timeout, which is six times the function's timeout (EventConsumer).
   */
  readonly receiveCount: number;
}

/**
 * Processes an SQS batch with partial responses. From a FIFO queue (a `perCustomer` stage),
 * one record at a time, in order, and after a record of a message group fails, that group's
 * later records fail unprocessed, so none overtakes it; other groups go on (Powertools'
 * `SqsFifoPartialProcessorAsync` with `skipGroupOnError`). From a standard queue, in parallel
 * unless told otherwise.
 *
 * It is where every consumer's record metrics come from: RecordsReceived, the batch's
 * records; RecordsFailed, each record the answer reports failed (all of them when every record
 * failed and the invocation fails), by the reason of what it threw (`failureReason`), or
 * `HeldBehindFailure` for a FIFO record failed unprocessed behind its group's failure. It
 * counts; the caller publishes (`BusinessMetrics.publishing`).
 */
export const sqsBatchProcessor = (metrics: BusinessMetrics) => {
  const processor = new BatchProcessor(EventType.SQS);
  const fifoProcessor = new SqsFifoPartialProcessorAsync();
  return async (
    event: SQSEvent,
    context: Context,
    processRecord: (record: SQSRecord) => Promise<void>,
    { processInParallel = true }: { readonly processInParallel?: boolean } = {},
  ): Promise<SQSBatchResponse> => {
    metrics.count(METRICS.recordsReceived, event.Records.length);
    const reasons = new Map<string, FailureReason>();
    const classified = async (record: SQSRecord): Promise<void> => {
      try {
        await processRecord(record);
      } catch (error) {
        reasons.set(record.messageId, failureReason(error));
        throw error;
      }
    };
    // A record that failed without throwing was never handed over: held behind its group.
    const reasonOf = (messageId: string): FailureReason =>
      reasons.get(messageId) ?? 'HeldBehindFailure';
    try {
      const response = await (event.Records[0]?.eventSourceARN.endsWith('.fifo')
        ? processPartialResponse(event, classified, fifoProcessor, {
            context,
            skipGroupOnError: true,
          })
        : processPartialResponse(event, classified, processor, { context, processInParallel }));
      for (const { itemIdentifier } of response.batchItemFailures) {
        metrics.recordsFailed(reasonOf(itemIdentifier));
      }
      return response;
    } catch (error) {
      // Every record failed (FullBatchFailureError), or the processor did: all are retried.
      const fallback = error instanceof FullBatchFailureError ? undefined : failureReason(error);
      for (const { messageId } of event.Records) {
        metrics.recordsFailed(reasons.get(messageId) ?? fallback ?? 'HeldBehindFailure');
      }
      throw error;
    }
  };
};

/**
 * An SQS handler that applies `handle` to each record's customer event and reports
 * the records that threw as partial batch failures, so only they are retried.
 * A malformed message throws like any other failure: after three receives it lands
 * in the dead-letter queue, never silently dropped. When every record fails the
 * invocation fails (Powertools' default), which also makes Lambda slow its polling.
 * The metrics counted during an invocation (the records', the consumer's own) are published
 * when it ends, whether it returns or throws.
 */
export const customerEventHandler = (
  handle: (event: CustomerEvent, delivery: Delivery) => Promise<void>,
  { logger, metrics, processInParallel = true }: CustomerEventHandlerOptions,
): ((event: SQSEvent, context: Context) => Promise<SQSBatchResponse>) => {
  const batches = sqsBatchProcessor(metrics);
  const processRecord = async (record: SQSRecord): Promise<void> => {
    try {
      await handle(parseCustomerEvent(record), {
        receiveCount: Number(record.attributes.ApproximateReceiveCount) || 1,
      });
    } catch (error) {
      logger.error('record failed; SQS will redeliver it', { messageId: record.messageId, error });
      throw error;
    }
  };
  return metrics.publishing((event: SQSEvent, context: Context) => {
    logger.addContext(context);
    return batches(event, context, processRecord, { processInParallel });
  });
};
