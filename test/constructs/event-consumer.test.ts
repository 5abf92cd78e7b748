import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { CustomerEvents } from '../../lib/constructs/customer-events';
import { EventConsumer, type EventConsumerProps } from '../../lib/constructs/event-consumer';
import { synthPipeline, TEST_ENV } from '../synth';
import {
  asList,
  constructsOfType,
  depthAlarmsOf,
  eventSourceMappingsOf,
  getAtt,
  logicalIdOf,
  type PolicyStatementJson,
  queuePolicyStatements,
  ref,
  resourceById,
  subscriptionsTo,
} from '../template-queries';

/** What each consumer must receive, as the exact filter policy SNS applies. */
const EXPECTED_FILTERS = {
  WelcomeConsumer: {
    scope: 'MessageAttributes',
    policy: { MessageType: ['CustomerCreated'] },
  },
  ArchiveConsumer: {
    scope: 'MessageAttributes',
    policy: { MessageType: ['CustomerCreated', 'CustomerUpdated', 'CustomerDeleted'] },
  },
  MarketingConsumer: {
    scope: 'MessageBody',
    policy: { marketingConsent: ['granted', 'revoked'] },
  },
  // The avatar function's erase (lib/constructs/avatars.ts).
  Deletions: {
    scope: 'MessageAttributes',
    policy: { MessageType: ['CustomerDeleted'] },
  },
} as const;
type ConsumerName = keyof typeof EXPECTED_FILTERS;
const CONSUMER_NAMES = Object.keys(EXPECTED_FILTERS) as ConsumerName[];

interface ConsumerIds {
  readonly queue: string;
  readonly deadLetterQueue: string;
  readonly subscriptionDeadLetterQueue: string;
  readonly function: string;
}

/** Only SNS, and only for messages from `topicId`, may send to the queue `queueId`. */
const sendFromTopicOnly = (queueId: string, topicId: string) => ({
  Effect: 'Allow',
  Action: ['sqs:SendMessage'],
  Principal: { Service: 'sns.amazonaws.com' },
  Resource: getAtt(queueId, 'Arn'),
  Condition: { ArnEquals: { 'aws:SourceArn': ref(topicId) } },
});

const normalised = ({ Sid: _sid, ...statement }: PolicyStatementJson) => ({
  ...statement,
  Action: asList(statement.Action),
});

describe('EventConsumer in the pipeline', () => {
  let template: Template;
  let topicId: string;
  let consumerNames: string[];
  const ids = {} as Record<ConsumerName, ConsumerIds>;
  beforeAll(() => {
    const { stack, template: synthesized } = synthPipeline('dev');
    template = synthesized;
    const [events] = constructsOfType(stack, CustomerEvents);
    if (!events) throw new Error('expected the events topic');
    topicId = logicalIdOf(stack, events.topic);
    const consumers = constructsOfType(stack, EventConsumer);
    consumerNames = consumers.map((c) => c.node.id).sort();
    for (const consumer of consumers) {
      ids[consumer.node.id as ConsumerName] = {
        queue: logicalIdOf(stack, consumer.queue),
        deadLetterQueue: logicalIdOf(stack, consumer.deadLetterQueue),
        subscriptionDeadLetterQueue: logicalIdOf(stack, consumer.subscriptionDeadLetterQueue),
        function: logicalIdOf(stack, consumer.function),
      };
    }
  });

  test('has exactly the welcome, archive, marketing and avatar-deletion consumers', () => {
    expect(consumerNames).toEqual([...CONSUMER_NAMES].sort());
  });

  test('no body-scope filter policy has a top-level $or (it crashes the local emulator)', () => {
    const bodyPolicies = Object.values(
      template.findResources('AWS::SNS::Subscription', {
        Properties: { FilterPolicyScope: 'MessageBody' },
      }),
    ).map((s) => (s as { Properties: { FilterPolicy: Record<string, unknown> } }).Properties);
    expect(bodyPolicies.length).toBeGreaterThan(0);
    for (const { FilterPolicy } of bodyPolicies)
      expect(Object.keys(FilterPolicy)).not.toContain('$or');
  });

  describe.each(CONSUMER_NAMES)('%s', (name) => {
    const subscription = () => {
      const [only, ...others] = subscriptionsTo(template, ids[name].queue);
      if (!only || others.length > 0) throw new Error(`expected one subscription to ${name}`);
      return only.Properties;
    };

    test('subscribes its queue to the events topic over SQS with raw message delivery', () => {
      expect(subscription()).toEqual(
        expect.objectContaining({
          TopicArn: ref(topicId),
          Protocol: 'sqs',
          RawMessageDelivery: true,
        }),
      );
    });

    test('sends what SNS cannot deliver to its subscription dead-letter queue', () => {
      expect(subscription().RedrivePolicy).toEqual({
        deadLetterTargetArn: getAtt(ids[name].subscriptionDeadLetterQueue, 'Arn'),
      });
    });

    test('receives exactly the events of its filter policy', () => {
      const { policy, scope } = EXPECTED_FILTERS[name];
      const { FilterPolicy, FilterPolicyScope } = subscription();
      expect(FilterPolicy).toEqual(policy);
      if (scope === 'MessageBody') expect(FilterPolicyScope).toBe('MessageBody');
      else expect([undefined, 'MessageAttributes']).toContain(FilterPolicyScope);
    });

    test('moves a message to its dead-letter queue after 3 receives', () => {
      expect(resourceById(template, ids[name].queue).Properties.RedrivePolicy).toEqual({
        deadLetterTargetArn: getAtt(ids[name].deadLetterQueue, 'Arn'),
        maxReceiveCount: 3,
      });
    });

    test("hides a received message for at least 6 × the function's timeout", () => {
      const visibility = resourceById(template, ids[name].queue).Properties.VisibilityTimeout;
      const timeout = resourceById(template, ids[name].function).Properties.Timeout;
      expect(typeof timeout).toBe('number');
      expect(visibility).toBeGreaterThanOrEqual(6 * (timeout as number));
    });

    test('lets only SNS send to its queue, and only from the events topic', () => {
      const allows = queuePolicyStatements(template, ids[name].queue)
        .filter((s) => s.Effect === 'Allow')
        .map(normalised);
      expect(allows).toEqual([sendFromTopicOnly(ids[name].queue, topicId)]);
    });

    test('lets the events topic send to its subscription dead-letter queue', () => {
      const dlq = ids[name].subscriptionDeadLetterQueue;
      const allows = queuePolicyStatements(template, dlq)
        .filter((s) => s.Effect === 'Allow')
        .map(normalised);
      expect(allows).toContainEqual(sendFromTopicOnly(dlq, topicId));
    });

    test('drains its own queue and reports partial batch failures', () => {
      const mappings = eventSourceMappingsOf(template, ids[name].function).filter(
        // The avatar function also drains the uploads queue (test/constructs/avatars.test.ts).
        (m) => JSON.stringify(m.Properties.EventSourceArn).includes(`"${ids[name].queue}"`),
      );
      expect(mappings.map((m) => m.Properties)).toEqual([
        expect.objectContaining({
          EventSourceArn: getAtt(ids[name].queue, 'Arn'),
          FunctionResponseTypes: ['ReportBatchItemFailures'],
        }),
      ]);
    });

    test('has a depth alarm on each of its two dead-letter queues', () => {
      expect(depthAlarmsOf(template, ids[name].deadLetterQueue).length).toBeGreaterThan(0);
      expect(depthAlarmsOf(template, ids[name].subscriptionDeadLetterQueue).length).toBeGreaterThan(
        0,
      );
    });
  });
});

describe('EventConsumer on its own', () => {
  const consumerIn = (filters: Partial<EventConsumerProps>) => () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'S', { env: TEST_ENV });
    new EventConsumer(stack, 'Consumer', {
      topic: new sns.Topic(stack, 'Topic'),
      handlerDir: 'welcome',
      description: 'test consumer',
      logRetention: logs.RetentionDays.ONE_WEEK,
      removalPolicy: RemovalPolicy.DESTROY,
      ...filters,
    });
  };
  const attributeFilter = {
    MessageType: sns.SubscriptionFilter.stringFilter({ allowlist: ['CustomerCreated'] }),
  };
  const bodyFilter = {
    marketingConsent: sns.FilterOrPolicy.filter(
      sns.SubscriptionFilter.stringFilter({ allowlist: ['granted'] }),
    ),
  };
  const exactlyOne = /exactly one of filterPolicy and filterPolicyWithMessageBody/;

  test('refuses both an attribute and a body filter policy', () => {
    expect(
      consumerIn({ filterPolicy: attributeFilter, filterPolicyWithMessageBody: bodyFilter }),
    ).toThrow(exactlyOne);
  });

  test('refuses to subscribe without a filter policy (it would receive every event)', () => {
    expect(consumerIn({})).toThrow(exactlyOne);
  });

  test('accepts exactly one filter policy of either scope', () => {
    expect(consumerIn({ filterPolicy: attributeFilter })).not.toThrow();
    expect(consumerIn({ filterPolicyWithMessageBody: bodyFilter })).not.toThrow();
  });
});
