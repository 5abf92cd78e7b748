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

const toEntry = ({ position, event }: Outgoing): PublishBatchRequestEntry => ({
  Id: String(position),
  Message: JSON.stringify(event),
  MessageAttributes: { [MESSAGE_TYPE_ATTRIBUTE]: { DataType: 'String', StringValue: event.type } },
});

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
        PublishBatchRequestEntries: chunk.map(toEntry),
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
 * Publishes the events in order, 10 per call, and returns the first one SNS does not confirm;
 * no later call is made. Entries after it in the same call may have been delivered: SNS
 * handles each entry of a PublishBatch on its own.
 */
export const publishInOrder = async (
  sns: SNSClient,
  topicArn: string,
  outgoing: readonly Outgoing[],
): Promise<PublishFailure | undefined> => {
  for (let start = 0; start < outgoing.length; start += MAX_BATCH_ENTRIES) {
    const failure = await publishChunk(
      sns,
      topicArn,
      outgoing.slice(start, start + MAX_BATCH_ENTRIES),
    );
    if (failure) return failure;
  }
  return undefined;
};
