import {
  PublishBatchCommand,
  type PublishBatchCommandOutput,
  type PublishBatchRequestEntry,
  type SNSClient,
} from '@aws-sdk/client-sns';
import { failureReason } from '../shared/adapters/metrics';
import type { FailureReason } from '../shared/contract';
import { type CustomerEvent, MESSAGE_TYPE_ATTRIBUTE } from '../shared/domain/events';

/** SNS accepts at most 10 entries per PublishBatch call. */
const MAX_BATCH_ENTRIES = 10;

/** An event to publish, with the position of its record in the stream batch. */
export interface Outgoing {
  readonly position: number;
  readonly event: CustomerEvent;
}

/** The first record that SNS did not confirm: it and everything after it are retried. */
export interface PublishFailure {
  readonly position: number;
  readonly reason: string;
  /** Its class, for the RecordsFailed metric (`failureReason`). */
  readonly failureReason: FailureReason;
}

/** How many events SNS confirmed, and the first it did not, if any. */
export interface PublishResult {
  readonly published: number;
  readonly failure?: PublishFailure;
}

/** A FIFO topic's name ends in `.fifo` (a `perCustomer` stage's). */
const isFifoTopic = (topicArn: string): boolean => topicArn.endsWith('.fifo');

/**
 * On a FIFO topic, each customer's events are one message group, and an event's id (stable
 * across the stream's retries of its record) is its deduplication id: SNS drops a retry's
 * copy of an event it took in the last 5 minutes.
 */
const toEntry =
  (fifo: boolean) =>
  ({ position, event }: Outgoing): PublishBatchRequestEntry => ({
    Id: String(position),
    Message: JSON.stringify(event),
    MessageAttributes: {
      [MESSAGE_TYPE_ATTRIBUTE]: { DataType: 'String', StringValue: event.type },
    },
    ...(fifo ? { MessageGroupId: event.customer.id, MessageDeduplicationId: event.eventId } : {}),
  });

/**
 * The calls to make, in order, up to 10 entries each. For a FIFO topic, no customer twice in
 * one call: SNS handles the entries of a call each on its own, so a customer's later event in
 * the call of a failed one would be delivered ahead of it. Split so, a failure stops the
 * customer's later events with every later call (the stop at the first failure below).
 */
const chunksOf = (outgoing: readonly Outgoing[], fifo: boolean): Outgoing[][] => {
  const chunks: Outgoing[][] = [];
  let chunk: Outgoing[] = [];
  for (const item of outgoing) {
    const repeats = fifo && chunk.some(({ event }) => event.customer.id === item.event.customer.id);
    if (chunk.length === MAX_BATCH_ENTRIES || repeats) {
      chunks.push(chunk);
      chunk = [];
    }
    chunk.push(item);
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
};

const publishChunk = async (
  sns: SNSClient,
  topicArn: string,
  chunk: readonly Outgoing[],
): Promise<PublishResult> => {
  const first = chunk[0];
  if (first === undefined) return { published: 0 };
  let response: PublishBatchCommandOutput;
  try {
    response = await sns.send(
      new PublishBatchCommand({
        TopicArn: topicArn,
        PublishBatchRequestEntries: chunk.map(toEntry(isFifoTopic(topicArn))),
      }),
    );
  } catch (error) {
    const name = error instanceof Error ? error.name : typeof error;
    return {
      published: 0,
      failure: {
        position: first.position,
        reason: `PublishBatch threw ${name}`,
        failureReason: failureReason(error),
      },
    };
  }
  // Anything SNS did not confirm counts as failed: a retry duplicates, a gap would lose it.
  const confirmed = new Set(response.Successful?.map((entry) => entry.Id));
  const published = chunk.filter(({ position }) => confirmed.has(String(position))).length;
  const unconfirmed = chunk.find(({ position }) => !confirmed.has(String(position)));
  if (unconfirmed === undefined) return { published };
  const failed = response.Failed?.find((entry) => entry.Id === String(unconfirmed.position));
  return {
    published,
    failure: {
      position: unconfirmed.position,
      reason: failed
        ? `PublishBatch entry failed: ${failed.Code} (sender fault: ${failed.SenderFault})`
        : 'PublishBatch did not confirm the entry',
      // An entry's failure, classified as the error it would have been.
      failureReason: failed
        ? failureReason({ name: failed.Code, $fault: failed.SenderFault ? 'client' : 'server' })
        : 'Unexpected',
    },
  };
};

/**
 * Publishes the events in order, up to 10 per call (`chunksOf`), and returns how many SNS
 * confirmed and the first one it did not; no later call is made. Entries after it in the same
 * call may have been delivered (and are counted published): SNS handles each entry of a
 * PublishBatch on its own (on a FIFO topic, none of them is the same customer's).
 */
export const publishInOrder = async (
  sns: SNSClient,
  topicArn: string,
  outgoing: readonly Outgoing[],
): Promise<PublishResult> => {
  let published = 0;
  for (const chunk of chunksOf(outgoing, isFifoTopic(topicArn))) {
    const result = await publishChunk(sns, topicArn, chunk);
    published += result.published;
    if (result.failure) return { published, failure: result.failure };
  }
  return { published };
};
