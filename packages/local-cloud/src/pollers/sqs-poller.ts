import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { type EventPattern, matchesAnyPattern } from '../event-filter';
import type { InvokeOutcome, LambdaInvoker } from '../model';
import { sleep } from '../net';

/** An SQS event source mapping's settings, resolved from the template. */
export interface SqsMappingSettings {
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly region: string;
  /** Messages per invocation (Lambda's default for SQS: 10). */
  readonly batchSize: number;
  /** Seconds the poller gathers messages before invoking, already time-scaled. */
  readonly maximumBatchingWindowSeconds: number;
  readonly reportBatchItemFailures: boolean;
  readonly filters: readonly EventPattern[];
  /** Concurrent poll loops (Lambda starts with five pollers per queue). */
  readonly pollers: number;
}

/** What became of one message in one invocation, for the local cloud's flow lines. */
export interface SqsDelivery {
  readonly message: Message;
  readonly outcome: 'succeeded' | 'failed' | 'filtered';
  readonly receiveCount: number;
  readonly error?: string;
}

export interface SqsPollerOptions {
  readonly sqs: SQSClient;
  readonly target: LambdaInvoker;
  readonly settings: SqsMappingSettings;
  readonly onDelivery?: (delivery: SqsDelivery) => void;
  readonly onError?: (error: unknown) => void;
}

/** The record Lambda hands a function for one SQS message. */
export const toSqsRecord = (message: Message, queueArn: string, region: string): SQSRecord => {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp:
        attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      // A FIFO queue's: the group a batch processor keeps in order, and the message's place.
      ...Object.fromEntries(
        (['SequenceNumber', 'MessageGroupId', 'MessageDeduplicationId'] as const)
          .filter((name) => attributes[name] !== undefined)
          .map((name) => [name, attributes[name]]),
      ),
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
        name,
        {
          dataType: value.DataType ?? 'String',
          stringValue: value.StringValue,
          binaryValue: value.BinaryValue
            ? Buffer.from(value.BinaryValue).toString('base64')
            : undefined,
          stringListValues: [],
          binaryListValues: [],
        },
      ]),
    ),
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
};

/** The filter sees what Lambda's does: the record, with a JSON body parsed. */
const filterView = (record: SQSRecord): unknown => {
  try {
    return { ...record, body: JSON.parse(record.body) as unknown };
  } catch {
    return record;
  }
};

/**
 * The message ids an invocation failed, as Lambda reads them: every message when
 * the function errored, or when its response is not a valid partial batch response.
 */
export const failedMessageIds = (
  outcome: InvokeOutcome,
  records: readonly SQSRecord[],
  reportBatchItemFailures: boolean,
): Set<string> => {
  const all = new Set(records.map((record) => record.messageId));
  if (!outcome.ok) return all;
  if (!reportBatchItemFailures) return new Set();
  const payload = outcome.payload as { batchItemFailures?: unknown } | null;
  const failures = payload?.batchItemFailures;
  if (failures === undefined || failures === null) return new Set();
  if (!Array.isArray(failures)) return all;
  const ids = new Set<string>();
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    // An empty or unknown identifier fails the whole batch, as Lambda does.
    if (typeof id !== 'string' || !all.has(id)) return all;
    ids.add(id);
  }
  return ids;
};

/**
 * Drives a function from an SQS queue the way Lambda's event source mapping does:
 * long-polls, gathers up to `batchSize` messages within the batching window,
 * drops (deletes) messages the filter criteria reject, invokes, deletes what
 * succeeded and leaves what failed to reappear after the visibility timeout, so
 * the queue's redrive policy moves a message that keeps failing to its DLQ.
 */
export class SqsPoller {
  private running = false;
  private loops: Promise<void>[] = [];
  /** Cancels the receives in flight when the poller stops, instead of waiting them out. */
  private receives = new AbortController();

  constructor(private options: SqsPollerOptions) {}

  /**
   * Settings from the next batch on (watch mode applies a changed mapping so): what is in
   * flight finishes as it began, and the queue keeps its messages. The source and the
   * number of poll loops are the ones it started with.
   */
  updateSettings(settings: SqsMappingSettings): void {
    this.options = { ...this.options, settings };
  }

  start(): void {
    this.running = true;
    this.receives = new AbortController();
    this.loops = Array.from({ length: this.options.settings.pollers }, () => this.loop());
  }

  async stop(): Promise<void> {
    this.running = false;
    // A cancelled receive is a lost answer: what it took becomes visible again after the
    // visibility timeout, as on SQS. Deliveries under way are waited for.
    this.receives.abort();
    await Promise.all(this.loops);
  }

  private async loop(): Promise<void> {
    while (this.running) {
      try {
        const messages = await this.gather();
        if (messages.length > 0) await this.deliver(messages);
      } catch (error) {
        if (!this.running) return;
        this.options.onError?.(error);
        await sleep(1000);
      }
    }
  }

  private async gather(): Promise<Message[]> {
    const { settings, sqs } = this.options;
    const messages: Message[] = [];
    // The batching window opens with the first message.
    let deadline = Number.POSITIVE_INFINITY;
    while (this.running && messages.length < settings.batchSize) {
      const received = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: settings.queueUrl,
          MaxNumberOfMessages: Math.min(10, settings.batchSize - messages.length),
          // Long-poll while the batch is empty; within the window, take what is there.
          WaitTimeSeconds: messages.length === 0 ? 1 : 0,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
        { abortSignal: this.receives.signal },
      );
      const batch = received.Messages ?? [];
      if (messages.length === 0 && batch.length > 0) {
        deadline = Date.now() + settings.maximumBatchingWindowSeconds * 1000;
      }
      messages.push(...batch);
      if (messages.length === 0) continue;
      if (Date.now() >= deadline) break;
      if (batch.length === 0) await sleep(Math.min(100, deadline - Date.now()));
    }
    return messages;
  }

  private async deliver(messages: Message[]): Promise<void> {
    const { settings, target } = this.options;
    const records = messages.map((m) => toSqsRecord(m, settings.queueArn, settings.region));
    const byId = new Map(messages.map((message) => [message.MessageId ?? '', message]));
    const report = (record: SQSRecord, outcome: SqsDelivery['outcome'], error?: string) => {
      const message = byId.get(record.messageId);
      if (message) {
        this.options.onDelivery?.({
          message,
          outcome,
          error,
          receiveCount: Number(record.attributes.ApproximateReceiveCount),
        });
      }
    };

    const accepted = records.filter((record) =>
      matchesAnyPattern(filterView(record), settings.filters),
    );
    const rejected = records.filter((record) => !accepted.includes(record));
    for (const record of rejected) report(record, 'filtered');

    let failed = new Set<string>();
    let error: string | undefined;
    if (accepted.length > 0) {
      const outcome = await target.invoke({ Records: accepted });
      failed = failedMessageIds(outcome, accepted, settings.reportBatchItemFailures);
      if (!outcome.ok) error = `${outcome.error.errorType}: ${outcome.error.errorMessage}`;
    }
    for (const record of accepted) {
      report(record, failed.has(record.messageId) ? 'failed' : 'succeeded', error);
    }
    const done = records.filter((record) => !failed.has(record.messageId));
    for (let start = 0; start < done.length; start += 10) {
      await this.options.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: settings.queueUrl,
          Entries: done.slice(start, start + 10).map((record, index) => ({
            Id: String(index),
            ReceiptHandle: record.receiptHandle,
          })),
        }),
      );
    }
  }
}
