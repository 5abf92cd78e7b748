import { Logger } from '@aws-lambda-powertools/logger';
import { SNSClient } from '@aws-sdk/client-sns';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { requireEnv } from '../shared/adapters/env';
import { type Outgoing, publishInOrder } from './sns-publisher';
import { readStreamRecord } from './stream-record';

const topicArn = requireEnv('TOPIC_ARN');
const sns = new SNSClient({});
const logger = new Logger();

/**
 * An empty identifier makes Lambda retry the whole batch: the safe answer for a record
 * that, against the stream's contract, has no sequence number.
 */
const sequenceNumberOf = (record: DynamoDBRecord | undefined): string =>
  record?.dynamodb?.SequenceNumber ?? '';

/**
 * Hands each profile change of a shard's batch to SNS in stream order, and stops at the first
 * record it cannot publish: that record and every later one are reported failed, so Lambda
 * retries from there and nothing is lost. That is no promise of order. Entries after a failed
 * one in the same PublishBatch were delivered already and go out again on the retry (with the
 * same eventId, which consumers dedupe on), and a standard topic and its queues deliver in any
 * order anyway: every consumer is written for late and out-of-order events (README,
 * Guarantees). Stopping at the first failure is kept on purpose: per-customer ordering, in a
 * later change, builds on never skipping past a failed record.
 * A malformed record therefore blocks its shard until the mapping's bounded retries give up and
 * hand it to the on-failure destination: nothing is dropped silently.
 */
export const handler = async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  const records = event.Records;
  const outgoing: Outgoing[] = [];
  let stopAt = records.length;

  for (const [position, record] of records.entries()) {
    const reading = readStreamRecord(record);
    if (reading.outcome === 'malformed') {
      logger.error('Malformed stream record; it and every later record will be retried', {
        sequenceNumber: sequenceNumberOf(record),
        eventId: record.eventID,
        reason: reading.reason,
      });
      stopAt = position;
      break;
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

  const failure = await publishInOrder(sns, topicArn, outgoing);
  if (failure) {
    const record = records[failure.position];
    logger.error('Publish failed; it and every later record will be retried', {
      sequenceNumber: sequenceNumberOf(record),
      eventId: record?.eventID,
      reason: failure.reason,
    });
    stopAt = failure.position;
  }

  return {
    batchItemFailures: records
      .slice(stopAt)
      .map((record) => ({ itemIdentifier: sequenceNumberOf(record) })),
  };
};
