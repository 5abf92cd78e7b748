import { createHash } from 'node:crypto';
import type { Message } from '@aws-sdk/client-sqs';
import { snsFilterPolicyMatches } from './event-filter';

/**
 * A consumer queue subscribed to a topic, or notified by a bucket (an S3 event notification),
 * as the template declares it.
 */
export interface ConsumerRoute {
  readonly name: string;
  /** Where its messages come from: the topic's ARN, or the bucket's for a notification. */
  readonly topicArn: string;
  /**
   * `bucket`: S3 sends each event to this queue alone, so a flow expects only it.
   * @default 'topic'
   */
  readonly from?: 'topic' | 'bucket';
  readonly queueArn: string;
  readonly filterPolicy?: Record<string, unknown>;
  readonly filterPolicyScope: 'MessageAttributes' | 'MessageBody';
  /** Receives after which the queue's redrive policy moves a message to its DLQ. */
  readonly maxReceiveCount?: number;
}

type Outcome = 'succeeded' | 'retrying' | 'dead-lettered';

interface Flow {
  readonly label: string;
  readonly expected: readonly ConsumerRoute[];
  readonly filtered: readonly ConsumerRoute[];
  readonly outcomes: Map<string, Outcome>;
  readonly startedAt: number;
  printed: boolean;
}

const MARK: Record<Outcome, string> = {
  succeeded: '✓',
  retrying: '… retrying',
  'dead-lettered': '✗ → DLQ',
};

/** What a flow line calls a message: its body's label if the app gives one, else its id. */
export type MessageLabel = (body: string) => string | undefined;

/**
 * An S3 event notification's label: `S3 ObjectCreated:Post avatar-uploads/3f2a9c1e`, the key's
 * last segment cut to 8 characters (keys often carry ids); `S3 TestEvent` for the test event.
 */
export const s3NotificationLabel: MessageLabel = (body) => {
  const parsed = JSON.parse(body) as {
    Event?: unknown;
    Records?: { eventSource?: unknown; eventName?: unknown; s3?: { object?: { key?: unknown } } }[];
  };
  if (parsed.Event === 's3:TestEvent') return 'S3 TestEvent';
  const [record] = parsed.Records ?? [];
  if (record?.eventSource !== 'aws:s3' || typeof record.eventName !== 'string') return undefined;
  const key = decodeURIComponent(String(record.s3?.object?.key ?? '').replace(/\+/g, ' '));
  const cut =
    key.slice(0, key.lastIndexOf('/') + 1) + key.slice(key.lastIndexOf('/') + 1).slice(0, 8);
  return `S3 ${record.eventName} ${cut}`;
};

const labelOf = (body: string, messageId: string, label: MessageLabel | undefined): string => {
  for (const labeller of [label, s3NotificationLabel]) {
    try {
      const given = labeller?.(body);
      if (given !== undefined) return given;
    } catch {
      // a label that fails on this body is no label
    }
  }
  return `message ${messageId.slice(0, 8)}`;
};

/**
 * Follows each published message through the consumers it reaches and prints one
 * line when all of them are done, e.g.
 * `↳ CustomerCreated 3f2a9c1e → welcome ✓ archive ✓ marketing filtered` (the label is the
 * app's `label`, or the message id).
 * Which consumers should see a message comes from the template's filter policies;
 * what they did comes from the pollers. The emulator does the real routing.
 */
export class FlowTracker {
  private readonly flows = new Map<string, Flow>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly routes: readonly ConsumerRoute[],
    private readonly print: (line: string) => void,
    private readonly options: {
      /** A flow still incomplete after this long is printed as it stands. */
      readonly patienceMs?: number;
      readonly label?: MessageLabel;
    } = {},
  ) {
    this.timer = setInterval(() => this.flushStale(), 1000);
    this.timer.unref();
  }

  record(
    queueArn: string,
    message: Message,
    outcome: 'succeeded' | 'failed' | 'filtered',
    receiveCount: number,
  ): void {
    const route = this.routes.find((r) => r.queueArn === queueArn);
    if (route === undefined) return;
    const body = message.Body ?? '';
    const key = createHash('sha256').update(body).digest('hex');
    let flow = this.flows.get(key);
    if (flow === undefined) {
      flow = this.startFlow(route, message, body);
      this.flows.set(key, flow);
    }
    // A message the mapping's own filter drops is done with, as far as the flow goes.
    const done = outcome !== 'failed';
    const dead =
      !done && route.maxReceiveCount !== undefined && receiveCount >= route.maxReceiveCount;
    flow.outcomes.set(route.name, done ? 'succeeded' : dead ? 'dead-lettered' : 'retrying');
    if (
      flow.expected.every(
        (r) => flow.outcomes.get(r.name) !== undefined && flow.outcomes.get(r.name) !== 'retrying',
      )
    ) {
      this.printFlow(flow);
      this.flows.delete(key);
    }
  }

  stop(): void {
    clearInterval(this.timer);
    for (const flow of this.flows.values()) this.printFlow(flow);
    this.flows.clear();
  }

  private startFlow(route: ConsumerRoute, message: Message, body: string): Flow {
    const attributes = Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
        name,
        { DataType: value.DataType ?? 'String', StringValue: value.StringValue },
      ]),
    );
    const siblings =
      route.from === 'bucket' ? [route] : this.routes.filter((r) => r.topicArn === route.topicArn);
    const matches = (r: ConsumerRoute) =>
      r.filterPolicy === undefined ||
      snsFilterPolicyMatches(r.filterPolicy, r.filterPolicyScope, { body, attributes });
    // A message sent straight to a queue (not through the topic) is expected where it landed.
    const expected = (r: ConsumerRoute) => r === route || matches(r);
    return {
      label: labelOf(body, message.MessageId ?? '', this.options.label),
      expected: siblings.filter(expected),
      filtered: siblings.filter((r) => !expected(r)),
      outcomes: new Map(),
      startedAt: Date.now(),
      printed: false,
    };
  }

  private printFlow(flow: Flow): void {
    if (flow.printed) return;
    flow.printed = true;
    const parts = [
      ...flow.expected.map((r) => `${r.name} ${MARK[flow.outcomes.get(r.name) ?? 'retrying']}`),
      ...flow.filtered.map((r) => `${r.name} filtered`),
    ];
    this.print(`  ↳ ${flow.label} → ${parts.join(' ')}`);
  }

  private flushStale(): void {
    const now = Date.now();
    for (const [key, flow] of this.flows) {
      if (now - flow.startedAt > (this.options.patienceMs ?? 60_000)) {
        this.printFlow(flow);
        this.flows.delete(key);
      }
    }
  }
}
