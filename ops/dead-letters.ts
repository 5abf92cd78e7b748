/**
 * The dead-letter runbook's logic: which queues of the synthesized template hold
 * dead letters (and what for), where they are, what they hold, and moving their
 * messages back. `ops/dlq.ts` is the command line around it.
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
  SQSServiceException,
} from '@aws-sdk/client-sqs';
import type { CfnResource, CfnTemplate } from 'cdk-local-cloud';
import * as z from 'zod';
import { nameOf, RESOURCE_METADATA_KEY, referencedId } from '../lib/resource-names';
import type { ResourceLocator } from '../ops/stack-target';

export type DeadLetterKind = 'queue' | 'subscription';

export const KIND_LABELS: Readonly<Record<DeadLetterKind, string>> = {
  queue: 'queue DLQ',
  subscription: 'subscription DLQ',
};

/** A dead-letter queue of the template and what its messages failed on their way to. */
export interface DeadLetterQueue {
  /** The construct id that owns the source (`WelcomeConsumer`). */
  readonly consumer: string;
  readonly kind: DeadLetterKind;
  /** The dead-letter queue's logical id. */
  readonly logicalId: string;
  /** Where its messages go back to: the consumer's queue (logical id). */
  readonly sourceLogicalId: string;
  /** Subscription DLQs only: the subscription delivers raw messages, not SNS envelopes. */
  readonly rawDelivery: boolean;
}

/** The template names no consumer by that name; `known` lists the ones it does. */
export class UnknownConsumer extends Error {
  constructor(
    readonly requested: string,
    readonly known: readonly string[],
  ) {
    super(`no consumer "${requested}"; known consumers: ${known.join(', ')}`);
    this.name = 'UnknownConsumer';
  }
}

const propertyAt = (resource: CfnResource, ...path: string[]): unknown => {
  let value: unknown = resource.Properties;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
};

/** The one name the constructs gave the consumer behind `resource` (`welcome`, `stream-publisher`). */
export const consumerOf = (logicalId: string, resource: CfnResource): string => {
  const name = nameOf(resource)?.name;
  if (name === undefined) {
    // Guessing a consumer from a logical id would be wrong: the template must say.
    throw new Error(
      `${logicalId} names no consumer (no ${RESOURCE_METADATA_KEY} metadata): synthesize this app again (npx cdk synth)`,
    );
  }
  return name;
};

/**
 * Every dead-letter queue of `template`, read from what points at it: a queue's
 * redrive policy, a subscription's redrive policy. Ordered by consumer, in template
 * order. (The stream publisher keeps its failures in a bucket: `stream-failures.ts`.)
 */
export const findDeadLetterQueues = (template: CfnTemplate): DeadLetterQueue[] => {
  const resources = template.Resources;
  const isQueue = (id: string | undefined): id is string =>
    id !== undefined && resources[id]?.Type === 'AWS::SQS::Queue';
  const found: DeadLetterQueue[] = [];
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type === 'AWS::SQS::Queue') {
      const dlq = referencedId(propertyAt(resource, 'RedrivePolicy', 'deadLetterTargetArn'));
      if (isQueue(dlq)) {
        found.push({
          consumer: consumerOf(id, resource),
          kind: 'queue',
          logicalId: dlq,
          sourceLogicalId: id,
          rawDelivery: false,
        });
      }
    } else if (resource.Type === 'AWS::SNS::Subscription') {
      const dlq = referencedId(propertyAt(resource, 'RedrivePolicy', 'deadLetterTargetArn'));
      const endpoint = referencedId(propertyAt(resource, 'Endpoint'));
      const endpointQueue = isQueue(endpoint) ? resources[endpoint] : undefined;
      if (isQueue(dlq) && endpoint && endpointQueue) {
        const raw = propertyAt(resource, 'RawMessageDelivery');
        found.push({
          consumer: consumerOf(endpoint, endpointQueue),
          kind: 'subscription',
          logicalId: dlq,
          sourceLogicalId: endpoint,
          rawDelivery: raw === true || raw === 'true',
        });
      }
    }
  }
  const consumers = [...new Set(found.map((dlq) => dlq.consumer))];
  const kinds: DeadLetterKind[] = ['queue', 'subscription'];
  return found.sort(
    (a, b) =>
      consumers.indexOf(a.consumer) - consumers.indexOf(b.consumer) ||
      kinds.indexOf(a.kind) - kinds.indexOf(b.kind),
  );
};

/** The dead-letter queues of the consumer called `name`; throws `UnknownConsumer`. */
export const deadLetterQueuesOf = (
  dlqs: readonly DeadLetterQueue[],
  name: string,
): DeadLetterQueue[] => {
  const matching = dlqs.filter((dlq) => dlq.consumer === name.toLowerCase());
  if (matching.length === 0) {
    throw new UnknownConsumer(name, [...new Set(dlqs.map((dlq) => dlq.consumer))]);
  }
  return matching;
};

/** A dead-letter queue with its physical ids resolved. */
export interface LocatedDeadLetterQueue extends DeadLetterQueue {
  readonly queueUrl: string;
  /** The source queue's URL. */
  readonly source: string;
}

/** `https://sqs.…/123456789012/name` → `name`. */
export const queueNameOf = (queueUrl: string): string =>
  queueUrl.slice(queueUrl.lastIndexOf('/') + 1);

export const locate = async (
  dlqs: readonly DeadLetterQueue[],
  locator: ResourceLocator,
): Promise<LocatedDeadLetterQueue[]> => {
  const ids = await locator.physicalIds();
  const physicalId = (logicalId: string): string => {
    const id = ids.get(logicalId);
    if (!id) throw new Error(`the stack has no resource ${logicalId}: is it the same template?`);
    return id;
  };
  return dlqs.map((dlq) => ({
    ...dlq,
    queueUrl: physicalId(dlq.logicalId),
    source: physicalId(dlq.sourceLogicalId),
  }));
};

export interface DeadLetterCount {
  readonly dlq: LocatedDeadLetterQueue;
  readonly visible: number;
  /** Received by someone and not yet deleted or back to visible. */
  readonly inFlight: number;
}

export const countMessages = async (
  sqs: SQSClient,
  dlq: LocatedDeadLetterQueue,
): Promise<DeadLetterCount> => {
  const { Attributes: attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: dlq.queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return {
    dlq,
    visible: Number(attributes.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
  };
};

export interface PeekedMessage {
  readonly messageId: string;
  readonly receiveCount: number;
  readonly sentAt: Date | undefined;
  readonly body: string;
  readonly messageAttributes: Readonly<Record<string, MessageAttributeValue>>;
}

/**
 * Up to `max` (at most 10) messages of `dlq`, received with a visibility timeout of 0
 * so they stay visible to everyone else: nothing is deleted or hidden. Since nothing
 * is hidden, a receive may return the same messages again, so a peek cannot page
 * past one receive's 10. (Each receive still raises a message's ApproximateReceiveCount;
 * a DLQ has no redrive policy to act on it.)
 */
export const peekMessages = async (
  sqs: SQSClient,
  dlq: LocatedDeadLetterQueue,
  max: number,
): Promise<PeekedMessage[]> => {
  const seen = new Map<string, PeekedMessage>();
  // A short poll may return fewer than there are, so receive again until receives stop adding any.
  let fruitless = 0;
  const limit = Math.min(max, 10);
  while (seen.size < limit && fruitless < 3) {
    const { Messages: messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlq.queueUrl,
        // Always 10: some of them may be ones already seen.
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 0,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
        MessageAttributeNames: ['All'],
      }),
    );
    const before = seen.size;
    for (const message of messages) {
      if (!message.MessageId || seen.has(message.MessageId) || seen.size >= limit) continue;
      const sent = message.Attributes?.SentTimestamp;
      seen.set(message.MessageId, {
        messageId: message.MessageId,
        receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? 0),
        sentAt: sent ? new Date(Number(sent)) : undefined,
        body: message.Body ?? '',
        messageAttributes: message.MessageAttributes ?? {},
      });
    }
    fruitless = seen.size > before ? 0 : fruitless + 1;
  }
  return [...seen.values()];
};

const snsEnvelope = z.object({
  Type: z.literal('Notification'),
  TopicArn: z.string(),
  Message: z.string(),
  MessageAttributes: z
    .record(z.string(), z.object({ Type: z.string(), Value: z.string() }))
    .optional(),
});

/**
 * What SNS would have put on the subscription's queue. A subscription DLQ may hold
 * the SNS envelope; a raw-delivery subscription delivers its `Message` with the
 * envelope's attributes as message attributes, so that is what goes back.
 */
const asDelivered = (
  dlq: DeadLetterQueue,
  message: Message,
): { body: string; attributes: Record<string, MessageAttributeValue> } => {
  const body = message.Body ?? '';
  const attributes: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    attributes[name] = {
      DataType: value.DataType,
      StringValue: value.StringValue,
      BinaryValue: value.BinaryValue,
    };
  }
  if (dlq.kind !== 'subscription' || !dlq.rawDelivery) return { body, attributes };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { body, attributes };
  }
  const envelope = snsEnvelope.safeParse(parsed);
  if (!envelope.success) return { body, attributes };
  const unwrapped: Record<string, MessageAttributeValue> = {};
  for (const [name, { Type: type, Value: value }] of Object.entries(
    envelope.data.MessageAttributes ?? {},
  )) {
    unwrapped[name] = type.startsWith('Binary')
      ? { DataType: type, BinaryValue: Buffer.from(value, 'base64') }
      : { DataType: type, StringValue: value };
  }
  return { body: envelope.data.Message, attributes: unwrapped };
};

/** A message a redrive left in its dead-letter queue on purpose, and why. */
export interface RefusedMessage {
  readonly messageId: string;
  readonly reason: string;
}

export interface RedriveResult {
  readonly moved: number;
  /** Messages left in the DLQ: refused, in flight elsewhere, or back again after this redrive sent them. */
  readonly left: number;
  /** Left in the DLQ because `refuse` gave a reason; visible again when the redrive ends. */
  readonly refused: readonly RefusedMessage[];
  /** Why the redrive stopped before the DLQ held only refused messages. */
  readonly stoppedBecause?: string;
}

export interface RedriveOptions {
  /** How long a message is hidden while it moves (and a refused one until the redrive ends). */
  readonly visibilityTimeoutSeconds?: number;
  /**
   * Why a message (as it would be delivered) must not go back, or `undefined` to move it.
   * @default - every message moves
   */
  readonly refuse?: (body: string) => string | undefined;
}

/**
 * What a send to a FIFO source queue (`ordering: perCustomer`) needs: the message's group, so
 * it goes back into its customer's order, and a deduplication id of its own. SQS drops, for 5
 * minutes, a message sent under an id it has seen, so the original's would lose a message
 * redriven soon after it failed; `redrive-<message id>` is new to the queue, and the same on a
 * rerun of an interrupted redrive, whose second send SQS then drops instead of duplicating.
 * Within a redrive, messages go back in the order the DLQ hands them out: each group's order.
 */
const fifoSendOf = (
  dlq: LocatedDeadLetterQueue,
  message: Message,
): { MessageGroupId?: string; MessageDeduplicationId?: string } =>
  dlq.source.endsWith('.fifo')
    ? {
        MessageGroupId: message.Attributes?.MessageGroupId,
        MessageDeduplicationId: `redrive-${message.MessageId}`,
      }
    : {};

/**
 * Moves every message of `dlq` back to its source queue: each is sent (body and
 * message attributes as they were; a raw subscription's SNS envelope unwrapped)
 * and only then deleted, so a crash in between duplicates a message, which the
 * idempotent consumers absorb, rather than losing it. Repeats until the DLQ holds
 * nothing but the messages `refuse` kept back, which stay hidden until the end so
 * no receive returns them twice, then are made visible again where they were.
 *
 * SQS's StartMessageMoveTask would do this server-side for queue DLQs, but moto
 * 5.2.1 does not implement it, it cannot unwrap subscription DLQs, and it cannot
 * keep a message back, so one path serves the local cloud and a deployed stack alike.
 */
export const redriveMessages = async (
  sqs: SQSClient,
  dlq: LocatedDeadLetterQueue,
  { visibilityTimeoutSeconds = 60, refuse = () => undefined }: RedriveOptions = {},
): Promise<RedriveResult> => {
  const sentIds = new Set<string>();
  // By message id: a refused message seen again (its hiding ran out) counts once.
  const kept = new Map<string, { message: Message; reason: string }>();
  let moved = 0;
  let emptyReceives = 0;
  const finish = async (stoppedBecause?: string): Promise<RedriveResult> => {
    await releaseAll(
      sqs,
      dlq,
      [...kept.values()].map(({ message }) => message),
    );
    const { visible, inFlight } = await countMessages(sqs, dlq);
    const refused = [...kept].map(([messageId, { reason }]) => ({ messageId, reason }));
    return { moved, left: visible + inFlight, refused, ...(stoppedBecause && { stoppedBecause }) };
  };
  for (;;) {
    const { Messages: messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlq.queueUrl,
        MaxNumberOfMessages: 10,
        // Hidden while it moves, so no second redrive moves it twice.
        VisibilityTimeout: visibilityTimeoutSeconds,
        // Short polls may miss messages on AWS; a long poll only once the queue looks empty.
        WaitTimeSeconds: emptyReceives > 0 ? 1 : 0,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['MessageGroupId'],
      }),
    );
    if (messages.length === 0) {
      const { visible, inFlight } = await countMessages(sqs, dlq);
      const othersInFlight = Math.max(0, inFlight - kept.size);
      if (visible + othersInFlight === 0) return finish();
      if (visible === 0 || emptyReceives >= 5) {
        return finish(
          `${visible + othersInFlight} message(s) still in the DLQ, ${othersInFlight} of them held by another reader: run redrive again later`,
        );
      }
      emptyReceives += 1;
      continue;
    }
    emptyReceives = 0;
    const returned = messages.find((m) => m.MessageId !== undefined && sentIds.has(m.MessageId));
    if (returned) {
      // The consumer failed it again already; moving it once more would loop forever.
      await releaseAll(sqs, dlq, messages);
      return finish(
        `message ${returned.MessageId} came back to the DLQ after this redrive sent it: the consumer still fails it`,
      );
    }
    for (const message of messages) {
      const { body, attributes } = asDelivered(dlq, message);
      const reason = refuse(body);
      if (reason !== undefined) {
        kept.set(message.MessageId ?? message.ReceiptHandle ?? '?', { message, reason });
        continue;
      }
      const sent = await sqs.send(
        new SendMessageCommand({
          QueueUrl: dlq.source,
          MessageBody: body,
          MessageAttributes: Object.keys(attributes).length > 0 ? attributes : undefined,
          ...fifoSendOf(dlq, message),
        }),
      );
      if (sent.MessageId) sentIds.add(sent.MessageId);
      await sqs.send(
        new DeleteMessageCommand({ QueueUrl: dlq.queueUrl, ReceiptHandle: message.ReceiptHandle }),
      );
      moved += 1;
    }
  }
};

const occurredAtSchema = z.object({
  eventId: z.string().optional(),
  type: z.string().optional(),
  occurredAt: z.iso.datetime(),
});

/**
 * A `refuse` for customer events: an event that happened more than `maxAgeSeconds`
 * before `now` stays in the DLQ. A message with no readable `occurredAt` is not a
 * customer event the consumers would apply, so its age does not matter and it moves.
 */
export const refuseEventsOlderThan =
  (maxAgeSeconds: number, now: () => Date = () => new Date()) =>
  (body: string): string | undefined => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return undefined;
    }
    const event = occurredAtSchema.safeParse(parsed);
    if (!event.success) return undefined;
    const { eventId, type = 'event', occurredAt } = event.data;
    const ageSeconds = (now().getTime() - Date.parse(occurredAt)) / 1000;
    if (ageSeconds <= maxAgeSeconds) return undefined;
    const days = (seconds: number) => `${Number((seconds / 86_400).toFixed(1))} days`;
    const what = eventId === undefined ? type : `${type} ${eventId}`;
    return `${what} happened ${occurredAt}, ${days(ageSeconds)} ago: older than the ${days(maxAgeSeconds)} a redriven event may be`;
  };

/**
 * Makes received messages visible again at once, so the next reader sees them. A
 * receipt handle that no longer works (its hiding ran out) is left: that message is
 * visible already.
 */
const releaseAll = async (
  sqs: SQSClient,
  dlq: LocatedDeadLetterQueue,
  messages: readonly Message[],
): Promise<void> => {
  for (const message of messages) {
    await sqs
      .send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: dlq.queueUrl,
          ReceiptHandle: message.ReceiptHandle,
          VisibilityTimeout: 0,
        }),
      )
      .catch((error: unknown) => {
        if (!(error instanceof SQSServiceException)) throw error;
      });
  }
};
