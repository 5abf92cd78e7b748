import {
  PublishBatchCommand,
  type PublishBatchCommandOutput,
  type PublishBatchRequestEntry,
  type SNSClient,
} from '@aws-sdk/client-sns';
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
): Promise<PublishFailure | undefined> => {
  const first = chunk[0];
  if (first === undefined) return undefined;
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
    return { position: first.position, reason: `PublishBatch threw ${name}` };
  }
  // Anything SNS did not confirm counts as failed: a retry duplicates, a gap would lose it.
  const confirmed = new Set(response.Successful?.map((entry) => entry.Id));
  const unconfirmed = chunk.find(({ position }) => !confirmed.has(String(position)));
  if (unconfirmed === undefined) return undefined;
  const failed = response.Failed?.find((entry) => entry.Id === String(unconfirmed.position));
  return {
    position: unconfirmed.position,
    reason: failed
      ? `PublishBatch entry failed: ${failed.Code} (sender fault: ${failed.SenderFault})`
      : 'PublishBatch did not confirm the entry',
  };
};

/**
 * Publishes the events in order, up to 10 per call (`chunksOf`), and returns the first one SNS
 * does not confirm; no later call is made. Entries after it in the same call may have been
 * delivered: SNS handles each entry of a PublishBatch on its own (on a FIFO topic, none of
 * them is the same customer's).
 */
export const publishInOrder = async (
  sns: SNSClient,
  topicArn: string,
  outgoing: readonly Outgoing[],
): Promise<PublishFailure | undefined> => {
  for (const chunk of chunksOf(outgoing, isFifoTopic(topicArn))) {
    const failure = await publishChunk(sns, topicArn, chunk);
    if (failure) return failure;
  }
  return undefined;
};
