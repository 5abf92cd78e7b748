import type { Message } from '@aws-sdk/client-sqs';
import { type ConsumerRoute, FlowTracker, type MessageLabel } from '../src/flow-tracker';
import { waitFor } from '../src/net';

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:customer-events';
const queueArn = (name: string) => `arn:aws:sqs:us-east-1:123456789012:${name}`;

/** The stack's three consumers and their filter policies, as the template declares them. */
const ROUTES: ConsumerRoute[] = [
  {
    name: 'welcome',
    topicArn: TOPIC,
    queueArn: queueArn('welcome'),
    filterPolicy: { MessageType: ['CustomerCreated'] },
    filterPolicyScope: 'MessageAttributes',
    maxReceiveCount: 3,
  },
  {
    name: 'archive',
    topicArn: TOPIC,
    queueArn: queueArn('archive'),
    filterPolicy: { MessageType: ['CustomerCreated', 'CustomerUpdated', 'CustomerDeleted'] },
    filterPolicyScope: 'MessageAttributes',
    maxReceiveCount: 3,
  },
  {
    name: 'marketing',
    topicArn: TOPIC,
    queueArn: queueArn('marketing'),
    filterPolicy: { marketingConsent: ['granted', 'revoked'] },
    filterPolicyScope: 'MessageBody',
    maxReceiveCount: 3,
  },
];

const CUSTOMER_ID = '3f2a9c1e-0000-4000-8000-000000000000';

/** A customer event as a consumer queue receives it (raw delivery keeps the attributes). */
const event = (type: string, marketingConsent: string, messageId = `msg-${type}`): Message => ({
  MessageId: messageId,
  Body: JSON.stringify({
    eventId: `evt-${type}-${marketingConsent}`,
    type,
    customer: { id: CUSTOMER_ID },
    marketingConsent,
  }),
  MessageAttributes: { MessageType: { DataType: 'String', StringValue: type } },
});

/** The app's label, as an app would give one: the event type and the customer id's start. */
const customerLabel: MessageLabel = (body) => {
  const parsed = JSON.parse(body) as { type: string; customer: { id: string } };
  return `${parsed.type} ${parsed.customer.id.slice(0, 8)}`;
};

const trackers: FlowTracker[] = [];
const track = (
  patienceMs?: number,
  { label }: { label?: MessageLabel } = { label: customerLabel },
) => {
  const lines: string[] = [];
  const tracker = new FlowTracker(ROUTES, (line) => lines.push(line), { patienceMs, label });
  trackers.push(tracker);
  return { tracker, lines };
};

afterEach(() => {
  for (const tracker of trackers.splice(0)) tracker.stop();
});

describe('FlowTracker', () => {
  it('prints one line once every expected consumer is done, naming the filtered ones', () => {
    const { tracker, lines } = track();
    const created = event('CustomerCreated', 'none');

    tracker.record(queueArn('welcome'), created, 'succeeded', 1);
    expect(lines).toEqual([]);
    tracker.record(queueArn('archive'), { ...created, MessageId: 'other-copy' }, 'succeeded', 1);

    expect(lines).toEqual([
      '  ↳ CustomerCreated 3f2a9c1e → welcome ✓ archive ✓ marketing filtered',
    ]);
  });

  it('labels a message by its id when the app gives no label, or its label fails', () => {
    for (const label of [undefined, () => JSON.parse('not json') as string]) {
      const { tracker, lines } = track(undefined, { label });
      tracker.record(
        queueArn('welcome'),
        event('CustomerCreated', 'none', 'a1b2c3d4-e5'),
        'succeeded',
        1,
      );
      tracker.record(
        queueArn('archive'),
        event('CustomerCreated', 'none', 'other'),
        'succeeded',
        1,
      );
      expect(lines).toEqual(['  ↳ message a1b2c3d4 → welcome ✓ archive ✓ marketing filtered']);
    }
  });

  it('expects the body-filtered consumer when the consent matches', () => {
    const { tracker, lines } = track();
    const updated = event('CustomerUpdated', 'granted');

    tracker.record(queueArn('archive'), updated, 'succeeded', 1);
    expect(lines).toEqual([]);
    tracker.record(queueArn('marketing'), updated, 'succeeded', 1);

    expect(lines).toEqual([
      '  ↳ CustomerUpdated 3f2a9c1e → archive ✓ marketing ✓ welcome filtered',
    ]);
  });

  it('waits while a consumer retries and marks it ✗ → DLQ at maxReceiveCount', () => {
    const { tracker, lines } = track();
    const deleted = event('CustomerDeleted', 'none');

    tracker.record(queueArn('archive'), deleted, 'failed', 1);
    tracker.record(queueArn('archive'), deleted, 'failed', 2);
    expect(lines).toEqual([]);
    tracker.record(queueArn('archive'), deleted, 'failed', 3);

    expect(lines).toEqual([
      '  ↳ CustomerDeleted 3f2a9c1e → archive ✗ → DLQ welcome filtered marketing filtered',
    ]);
  });

  it('counts a message the mapping filter dropped as done', () => {
    const { tracker, lines } = track();
    const updated = event('CustomerUpdated', 'none');

    tracker.record(queueArn('archive'), updated, 'filtered', 1);

    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('archive ✓');
  });

  it('labels a message that is not a customer event by its id', () => {
    const { tracker, lines } = track();

    tracker.record(
      queueArn('archive'),
      {
        MessageId: 'abcdef1234567890',
        Body: 'not json',
        MessageAttributes: { MessageType: { DataType: 'String', StringValue: 'CustomerCreated' } },
      },
      'succeeded',
      1,
    );
    tracker.record(
      queueArn('welcome'),
      {
        MessageId: 'abcdef1234567890',
        Body: 'not json',
        MessageAttributes: { MessageType: { DataType: 'String', StringValue: 'CustomerCreated' } },
      },
      'succeeded',
      1,
    );

    expect(lines).toEqual(['  ↳ message abcdef12 → welcome ✓ archive ✓ marketing filtered']);
  });

  it('ignores queues that are not consumers of a route', () => {
    const { tracker, lines } = track();

    tracker.record(queueArn('somewhere-else'), event('CustomerCreated', 'none'), 'succeeded', 1);
    tracker.stop();

    expect(lines).toEqual([]);
  });

  it('prints a flow still incomplete after patienceMs as it stands', async () => {
    const { tracker, lines } = track(50);

    tracker.record(queueArn('welcome'), event('CustomerCreated', 'granted'), 'succeeded', 1);
    await waitFor(() => lines.length > 0, { timeoutMs: 5_000, what: 'the stale flow line' });

    expect(lines).toEqual([
      '  ↳ CustomerCreated 3f2a9c1e → welcome ✓ archive … retrying marketing … retrying',
    ]);
  });

  it('prints what is still open when stopped, once', () => {
    const { tracker, lines } = track();

    tracker.record(queueArn('archive'), event('CustomerUpdated', 'none'), 'failed', 1);
    tracker.stop();
    tracker.stop();

    expect(lines).toEqual([
      '  ↳ CustomerUpdated 3f2a9c1e → archive … retrying welcome filtered marketing filtered',
    ]);
  });

  describe('an S3 event notification', () => {
    const BUCKET = 'arn:aws:s3:::assets-bucket';
    const bucketRoutes: ConsumerRoute[] = [
      ...ROUTES,
      ...['avatar-uploads', 'reports'].map((name) => ({
        name,
        topicArn: BUCKET,
        from: 'bucket' as const,
        queueArn: queueArn(name),
        filterPolicyScope: 'MessageAttributes' as const,
        maxReceiveCount: 3,
      })),
    ];
    const notification = (key: string): Message => ({
      MessageId: 'n-1',
      Body: JSON.stringify({
        Records: [
          { eventSource: 'aws:s3', eventName: 'ObjectCreated:Post', s3: { object: { key } } },
        ],
      }),
    });

    it('is one flow of its own queue, labelled by event and key (its last segment cut to 8 characters)', () => {
      const lines: string[] = [];
      const tracker = new FlowTracker(bucketRoutes, (line) => lines.push(line), {
        label: customerLabel,
      });
      trackers.push(tracker);

      tracker.record(
        queueArn('avatar-uploads'),
        notification(`avatar-uploads%2F${CUSTOMER_ID}`),
        'failed',
        1,
      );
      expect(lines).toEqual([]);
      tracker.record(
        queueArn('avatar-uploads'),
        notification(`avatar-uploads%2F${CUSTOMER_ID}`),
        'succeeded',
        2,
      );

      expect(lines).toEqual([
        '  ↳ S3 ObjectCreated:Post avatar-uploads/3f2a9c1e → avatar-uploads ✓',
      ]);
    });

    it('labels S3’s test event', () => {
      const lines: string[] = [];
      const tracker = new FlowTracker(bucketRoutes, (line) => lines.push(line));
      trackers.push(tracker);

      tracker.record(
        queueArn('reports'),
        { MessageId: 'n-2', Body: JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent' }) },
        'succeeded',
        1,
      );

      expect(lines).toEqual(['  ↳ S3 TestEvent → reports ✓']);
    });
  });
});
