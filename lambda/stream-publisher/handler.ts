import { Logger } from '@aws-lambda-powertools/logger';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import type {
  Context,
  DynamoDBBatchResponse,
  DynamoDBRecord,
  DynamoDBStreamEvent,
} from 'aws-lambda';
import { requireEnv } from '../shared/adapters/env';
import { BusinessMetrics, failureReason } from '../shared/adapters/metrics';
import { type FailureReason, METRICS } from '../shared/contract';
import type { InvocationContext } from './failure-record';
import { FailureStore } from './failure-store';
import { type Outgoing, publishInOrder } from './sns-publisher';
import { readStreamRecord } from './stream-record';

const topicArn = requireEnv('TOPIC_ARN');
const failures = new FailureStore(new S3Client({}), requireEnv('FAILURE_BUCKET_NAME'));
const sns = new SNSClient({});
const logger = new Logger();
const metrics = new BusinessMetrics({ logger });

/**
 * An empty identifier makes Lambda retry the whole batch: the safe answer for a record
 * that, against the stream's contract, has no sequence number.
 */
const sequenceNumberOf = (record: DynamoDBRecord | undefined): string =>
  record?.dynamodb?.SequenceNumber ?? '';

const invocationOf = (context: Context): InvocationContext => ({
  awsRequestId: context.awsRequestId,
  invokedFunctionArn: context.invokedFunctionArn,
  functionVersion: context.functionVersion,
});

/**
 * Hands each profile change of a shard's batch to SNS in stream order, and stops at the first
 * record it cannot publish: that record and every later one are reported failed, so Lambda
 * retries from there and nothing is lost. That is no promise of order. Entries after a failed
 * one in the same PublishBatch were delivered already and go out again on the retry (with the
 * same eventId, which consumers dedupe on), and a standard topic and its queues deliver in any
 * order anyway: every consumer is written for late and out-of-order events (README,
 * Guarantees). To a FIFO topic (`ordering: perCustomer`), each customer's events are a message
 * group deduplicated by eventId, and no call holds two of one customer: with the stop at the
 * first failure, none of a customer's events reaches SNS after a later one of its own, and a
 * retried record's repeat within 5 minutes is dropped by SNS (later ones, by the consumers).
 *
 * A deletion is a change like any other: its REMOVE record publishes CustomerDeleted, and
 * what a deleted customer's late events may do is the consumers' to decide.
 *
 * A record that can never be published (it fails validation) is not retried, which would
 * block its shard until the mapping gave up on it: it is written, payload and all, to the
 * failure bucket, where `npm run dlq -- replay` finds it, and skipped. Only if the bucket does
 * not take it is it reported failed, with every later record.
 *
 * Counted, and published when the invocation ends: RecordsReceived, the stream records;
 * EventsPublished, the events SNS confirmed (a retried record's repeat counts again);
 * RecordsFailed, by reason: `Unpublishable` for a record written to the failure bucket and
 * skipped, the failure's own reason (`failureReason`) for the record the publisher stopped at
 * (its publish, or its write to the failure bucket, failed), and `HeldBehindFailure` for every
 * later record reported failed with it.
 */
const publishRecords = async (
  event: DynamoDBStreamEvent,
  context: Context,
): Promise<DynamoDBBatchResponse> => {
  logger.addContext(context);
  const records = event.Records;
  metrics.count(METRICS.recordsReceived, records.length);
  const outgoing: Outgoing[] = [];
  const unpublishable: number[] = [];
  let stopAt = records.length;
  let stoppedBy: FailureReason = 'Unexpected';

  for (const [position, record] of records.entries()) {
    const reading = readStreamRecord(record);
    if (reading.outcome === 'malformed') {
      const sequenceNumber = sequenceNumberOf(record);
      try {
        const key = await failures.putUnpublishable(record, reading.reason, invocationOf(context));
        logger.error('Unpublishable stream record written to the failure bucket and skipped', {
          sequenceNumber,
          eventId: record.eventID,
          reason: reading.reason,
          key,
        });
        unpublishable.push(position);
        continue;
      } catch (error) {
        logger.error(
          'Unpublishable stream record not written; it and every later one will be retried',
          {
            sequenceNumber,
            eventId: record.eventID,
            reason: reading.reason,
            error: error instanceof Error ? error.name : typeof error,
          },
        );
        stopAt = position;
        stoppedBy = failureReason(error);
        break;
      }
    }
    if (reading.outcome === 'skip') {
      logger.debug('Skipped stream record', {
        sequenceNumber: sequenceNumberOf(record),
        reason: reading.reason,
      });
      continue;
    }
    outgoing.push({ position, event: reading.event });
  }

  const { published, failure } = await publishInOrder(sns, topicArn, outgoing);
  metrics.count(METRICS.eventsPublished, published);
  if (failure) {
    const record = records[failure.position];
    logger.error('Publish failed; it and every later record will be retried', {
      sequenceNumber: sequenceNumberOf(record),
      eventId: record?.eventID,
      reason: failure.reason,
    });
    if (failure.position < stopAt) {
      stopAt = failure.position;
      stoppedBy = failure.failureReason;
    }
  }

  // A record written to the failure bucket but after the stop is retried, so counted there.
  metrics.recordsFailed('Unpublishable', unpublishable.filter((p) => p < stopAt).length);
  if (stopAt < records.length) {
    metrics.recordsFailed(stoppedBy);
    metrics.recordsFailed('HeldBehindFailure', records.length - stopAt - 1);
  }
  return {
    batchItemFailures: records
      .slice(stopAt)
      .map((record) => ({ itemIdentifier: sequenceNumberOf(record) })),
  };
};

export const handler = metrics.publishing(publishRecords);
