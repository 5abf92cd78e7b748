import {
  BatchProcessor,
  EventType,
  processPartialResponse,
  SqsFifoPartialProcessorAsync,
} from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type * as z from 'zod/mini';
import { type CustomerEvent, customerEventSchema } from '../domain/events';

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
 */
export const sqsBatchProcessor = () => {
  const processor = new BatchProcessor(EventType.SQS);
  const fifoProcessor = new SqsFifoPartialProcessorAsync();
  return (
    event: SQSEvent,
    context: Context,
    processRecord: (record: SQSRecord) => Promise<void>,
    { processInParallel = true }: { readonly processInParallel?: boolean } = {},
  ): Promise<SQSBatchResponse> =>
    event.Records[0]?.eventSourceARN.endsWith('.fifo')
      ? processPartialResponse(event, processRecord, fifoProcessor, {
          context,
          skipGroupOnError: true,
        })
      : processPartialResponse(event, processRecord, processor, { context, processInParallel });
};

/**
 * An SQS handler that applies `handle` to each record's customer event and reports
 * the records that threw as partial batch failures, so only they are retried.
 * A malformed message throws like any other failure: after three receives it lands
 * in the dead-letter queue, never silently dropped. When every record fails the
 * invocation fails (Powertools' default), which also makes Lambda slow its polling.
 */
export const customerEventHandler = (
  handle: (event: CustomerEvent, delivery: Delivery) => Promise<void>,
  { logger, processInParallel = true }: CustomerEventHandlerOptions,
): ((event: SQSEvent, context: Context) => Promise<SQSBatchResponse>) => {
  const batches = sqsBatchProcessor();
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
  return (event, context) => {
    logger.addContext(context);
    return batches(event, context, processRecord, { processInParallel });
  };
};
