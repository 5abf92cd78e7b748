import { Avatars } from '../../lib/constructs/avatars';
import { CustomerEvents } from '../../lib/constructs/customer-events';
import { EventConsumer } from '../../lib/constructs/event-consumer';
import { synthPipeline } from '../synth';
import {
  type CfnResourceJson,
  constructsOfType,
  eventSourceMappingsOf,
  logicalIdOf,
  resourceById,
  resourcesOfType,
} from '../template-queries';

// `ordering: perCustomer`: a FIFO topic and FIFO consumer queues, each customer a message
// group; everything else as in `standard`.

const standard = synthPipeline('dev');
const perCustomer = synthPipeline('dev', { context: { ordering: 'perCustomer' } });

const FIFO_QUEUE = {
  FifoQueue: true,
  ContentBasedDeduplication: false,
  DeduplicationScope: 'messageGroup',
  FifoThroughputLimit: 'perMessageGroupId',
};

const consumersOf = (synthesized: ReturnType<typeof synthPipeline>) =>
  constructsOfType(synthesized.stack, EventConsumer).map((consumer) => ({
    name: consumer.function.handlerDir,
    queues: [consumer.queue, consumer.deadLetterQueue, consumer.subscriptionDeadLetterQueue].map(
      (queue) => logicalIdOf(synthesized.stack, queue),
    ),
    queue: logicalIdOf(synthesized.stack, consumer.queue),
    function: logicalIdOf(synthesized.stack, consumer.function),
  }));

const topicOf = (synthesized: ReturnType<typeof synthPipeline>) => {
  const [events] = constructsOfType(synthesized.stack, CustomerEvents);
  if (!events) throw new Error('expected the events topic');
  return resourceById(synthesized.template, logicalIdOf(synthesized.stack, events.topic))
    .Properties;
};

const subscriptionPolicies = (synthesized: ReturnType<typeof synthPipeline>) =>
  Object.values(resourcesOfType(synthesized.template, 'AWS::SNS::Subscription'))
    .map((s: CfnResourceJson) =>
      JSON.stringify([s.Properties.FilterPolicyScope, s.Properties.FilterPolicy]),
    )
    .sort();

describe('ordering: perCustomer', () => {
  test('the events topic is FIFO, deduplicating per message group, never by content', () => {
    expect(topicOf(perCustomer)).toEqual(
      expect.objectContaining({
        FifoTopic: true,
        ContentBasedDeduplication: false,
        FifoThroughputScope: 'MessageGroup',
        TopicName: expect.stringMatching(/\.fifo$/),
      }),
    );
  });

  test('every consumer queue and both its dead-letter queues are high-throughput FIFO', () => {
    const consumers = consumersOf(perCustomer);
    expect(consumers.map((c) => c.name).sort()).toEqual([
      'archive',
      'avatar',
      'marketing',
      'welcome',
    ]);
    for (const { name, queues } of consumers) {
      for (const queue of queues) {
        expect({ name, queue, ...resourceById(perCustomer.template, queue).Properties }).toEqual(
          expect.objectContaining({ name, queue, ...FIFO_QUEUE }),
        );
      }
    }
  });

  test('each consumer drains its FIFO queue in batches of at most 10, with no batching window, reporting partial failures', () => {
    for (const consumer of consumersOf(perCustomer)) {
      const [mapping] = eventSourceMappingsOf(perCustomer.template, consumer.function).filter((m) =>
        JSON.stringify(m.Properties.EventSourceArn).includes(`"${consumer.queue}"`),
      );
      expect({ name: consumer.name, ...mapping?.Properties }).toEqual(
        expect.objectContaining({
          name: consumer.name,
          BatchSize: 10,
          FunctionResponseTypes: ['ReportBatchItemFailures'],
        }),
      );
      expect(mapping?.Properties).not.toHaveProperty('MaximumBatchingWindowInSeconds');
    }
  });

  test('the avatar uploads queue stays standard: S3 cannot notify a FIFO queue', () => {
    const [avatars] = constructsOfType(perCustomer.stack, Avatars);
    if (!avatars) throw new Error('expected the avatars');
    for (const queue of [avatars.uploadsQueue, avatars.uploadsDeadLetterQueue]) {
      expect(
        resourceById(perCustomer.template, logicalIdOf(perCustomer.stack, queue)).Properties,
      ).not.toHaveProperty('FifoQueue');
    }
  });

  test('the filter policies, alarms and dashboard are those of standard', () => {
    expect(subscriptionPolicies(perCustomer)).toEqual(subscriptionPolicies(standard));
    const alarms = (synthesized: ReturnType<typeof synthPipeline>) =>
      Object.keys(resourcesOfType(synthesized.template, 'AWS::CloudWatch::Alarm')).sort();
    expect(alarms(perCustomer)).toEqual(alarms(standard));
    const widgets = (synthesized: ReturnType<typeof synthPipeline>) =>
      JSON.stringify(
        Object.values(resourcesOfType(synthesized.template, 'AWS::CloudWatch::Dashboard'))[0]
          ?.Properties.DashboardBody,
      ).match(/\\"title\\"/g)?.length;
    expect(widgets(standard)).toBeGreaterThan(10);
    expect(widgets(perCustomer)).toBe(widgets(standard));
  });
});

describe('ordering: standard', () => {
  test('nothing is FIFO', () => {
    expect(topicOf(standard)).not.toHaveProperty('FifoTopic');
    for (const queue of Object.values(resourcesOfType(standard.template, 'AWS::SQS::Queue'))) {
      expect(queue.Properties).not.toHaveProperty('FifoQueue');
    }
  });
});
