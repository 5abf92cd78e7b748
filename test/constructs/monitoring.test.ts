import type { Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import { METRIC_DIMENSIONS, METRICS, type MetricName } from '../../lambda/shared/contract';
import { Avatars } from '../../lib/constructs/avatars';
import { CustomerApi } from '../../lib/constructs/customer-api';
import { EventConsumer } from '../../lib/constructs/event-consumer';
import { Monitoring } from '../../lib/constructs/monitoring';
import { PipelineFunction } from '../../lib/constructs/pipeline-function';
import { StreamPublisher } from '../../lib/constructs/stream-publisher';
import { synthPipeline } from '../synth';
import {
  asList,
  type CfnResourceJson,
  constructsOfType,
  depthAlarmsOf,
  getAtt,
  logicalIdOf,
  policyStatementsOf,
  ref,
  referencedId,
  resourceById,
  resourcesOfType,
} from '../template-queries';

const ANSWERS = [METRICS.answers2xx, METRICS.answers3xx, METRICS.answers4xx, METRICS.answers5xx];
const RECORDS = [METRICS.recordsReceived, METRICS.recordsFailed];

/** Every metric line of the dashboard's widgets (a resolved token reads as TOKEN). */
const dashboardLines = (template: Template): unknown[][] => {
  const [dashboard] = Object.values(resourcesOfType(template, 'AWS::CloudWatch::Dashboard'));
  const join = dashboard?.Properties.DashboardBody as { 'Fn::Join': [string, unknown[]] };
  const body = JSON.parse(
    join['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : 'TOKEN')).join(''),
  ) as { widgets: { properties: { metrics?: unknown[][] } }[] };
  return body.widgets.flatMap((widget) => widget.properties.metrics ?? []);
};

const lambdaAlarmsOf = (template: Template, metricName: string, functionId: string) =>
  Object.values(resourcesOfType(template, 'AWS::CloudWatch::Alarm')).filter(
    (alarm) =>
      alarm.Properties.Namespace === 'AWS/Lambda' &&
      alarm.Properties.MetricName === metricName &&
      JSON.stringify(alarm.Properties.Dimensions) ===
        JSON.stringify([{ Name: 'FunctionName', Value: ref(functionId) }]),
  );

const subscriptionsOfTopic = (template: Template, topicId: string): CfnResourceJson[] =>
  Object.values(resourcesOfType(template, 'AWS::SNS::Subscription')).filter(
    (s) => referencedId(s.Properties.TopicArn) === topicId,
  );

describe('Monitoring', () => {
  let template: Template;
  let alarmTopicId: string;
  let deadLetterQueueIds: string[];
  let functionIds: string[];
  let publisherFunctionId: string;
  let stack: Stack;
  let failureBucketId: string;
  beforeAll(() => {
    const synthesized = synthPipeline('dev');
    stack = synthesized.stack;
    template = synthesized.template;
    const [monitoring] = constructsOfType(stack, Monitoring);
    const [publisher] = constructsOfType(stack, StreamPublisher);
    if (!monitoring || !publisher) throw new Error('expected monitoring and the publisher');
    alarmTopicId = logicalIdOf(stack, monitoring.alarmTopic);
    publisherFunctionId = logicalIdOf(stack, publisher.function);
    failureBucketId = logicalIdOf(stack, publisher.failureBucket);
    deadLetterQueueIds = [
      ...constructsOfType(stack, EventConsumer).flatMap((c) => [
        c.deadLetterQueue,
        c.subscriptionDeadLetterQueue,
      ]),
      ...constructsOfType(stack, Avatars).map((a) => a.uploadsDeadLetterQueue),
    ].map((queue) => logicalIdOf(stack, queue));
    functionIds = constructsOfType(stack, PipelineFunction).map((fn) => logicalIdOf(stack, fn));
  });

  test('watches all 9 dead-letter queues: 2 per consumer, and the avatar uploads queue’s', () => {
    expect(new Set(deadLetterQueueIds).size).toBe(9);
  });

  test('alarms as soon as anything is written to the publisher’s failure bucket, and charts it', () => {
    const writeAlarms = Object.values(resourcesOfType(template, 'AWS::CloudWatch::Alarm')).filter(
      (alarm) =>
        alarm.Properties.Namespace === 'AWS/S3' &&
        (alarm.Properties.Dimensions as { Name: string; Value: unknown }[]).some(
          (d) => d.Name === 'BucketName' && referencedId(d.Value) === failureBucketId,
        ),
    );
    expect(writeAlarms.map((alarm) => alarm.Properties)).toEqual([
      expect.objectContaining({
        MetricName: 'PutRequests',
        Dimensions: expect.arrayContaining([{ Name: 'FilterId', Value: 'Writes' }]),
        Statistic: 'Sum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      }),
    ]);
    const [dashboard] = Object.values(resourcesOfType(template, 'AWS::CloudWatch::Dashboard'));
    const body = JSON.stringify(dashboard?.Properties.DashboardBody);
    expect(body).toContain('PutRequests');
    expect(body).toContain(JSON.stringify(ref(failureBucketId)));
  });

  test('alarms as soon as any dead-letter queue holds a message', () => {
    for (const queueId of deadLetterQueueIds) {
      const alarms = depthAlarmsOf(template, queueId).map((a) => ({ queueId, ...a.Properties }));
      expect(alarms).toEqual([
        expect.objectContaining({
          queueId,
          Namespace: 'AWS/SQS',
          MetricName: 'ApproximateNumberOfMessagesVisible',
          Dimensions: [{ Name: 'QueueName', Value: getAtt(queueId, 'QueueName') }],
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        }),
      ]);
    }
  });

  test('alarms on errors of each of the seven functions', () => {
    expect(functionIds).toHaveLength(7);
    for (const functionId of functionIds) {
      expect({ functionId, alarms: lambdaAlarmsOf(template, 'Errors', functionId).length }).toEqual(
        { functionId, alarms: 1 },
      );
    }
  });

  test('alarms when the stream publisher falls behind the stream (IteratorAge)', () => {
    expect(lambdaAlarmsOf(template, 'IteratorAge', publisherFunctionId)).toHaveLength(1);
  });

  test("alarms on the API stage's 5xx answers, which handled 500s and 503s never raise as Lambda errors", () => {
    const [api] = constructsOfType(stack, CustomerApi);
    if (!api) throw new Error('expected the API');
    const apiId = logicalIdOf(stack, api.httpApi);
    const serverErrors = Object.values(resourcesOfType(template, 'AWS::CloudWatch::Alarm')).filter(
      (alarm) => alarm.Properties.Namespace === 'AWS/ApiGateway',
    );
    expect(serverErrors.map((alarm) => alarm.Properties)).toEqual([
      expect.objectContaining({
        MetricName: '5xx',
        Dimensions: expect.arrayContaining([{ Name: 'ApiId', Value: ref(apiId) }]),
        Statistic: 'Sum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        AlarmActions: [ref(alarmTopicId)],
      }),
    ]);
    const [dashboard] = Object.values(resourcesOfType(template, 'AWS::CloudWatch::Dashboard'));
    expect(JSON.stringify(dashboard?.Properties.DashboardBody)).toContain('\\"5xx\\"');
  });

  test('every alarm notifies the alarm topic', () => {
    const alarms = Object.entries(resourcesOfType(template, 'AWS::CloudWatch::Alarm'));
    expect(alarms.length).toBeGreaterThanOrEqual(6 + 1 + 6 + 1);
    for (const [id, alarm] of alarms) {
      expect({ id, actions: alarm.Properties.AlarmActions }).toEqual({
        id,
        actions: [ref(alarmTopicId)],
      });
    }
  });

  test("lets CloudWatch use the alarm topic's key, or encrypted alarm messages never arrive", () => {
    const keyId = referencedId(resourceById(template, alarmTopicId).Properties.KmsMasterKeyId);
    const key = resourceById(template, keyId ?? '');
    expect(key.Type).toBe('AWS::KMS::Key');
    const cloudWatchActions = policyStatementsOf(key)
      .filter(
        (s) =>
          s.Effect === 'Allow' &&
          JSON.stringify(s.Principal) === JSON.stringify({ Service: 'cloudwatch.amazonaws.com' }),
      )
      .flatMap((s) => asList(s.Action));
    expect(cloudWatchActions).toEqual(
      expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey*']),
    );
  });

  test("lets CloudWatch use that key only for this account's alarms (no confused deputy)", () => {
    const keyId = referencedId(resourceById(template, alarmTopicId).Properties.KmsMasterKeyId);
    const forCloudWatch = policyStatementsOf(resourceById(template, keyId ?? '')).filter(
      (s) =>
        JSON.stringify(s.Principal) === JSON.stringify({ Service: 'cloudwatch.amazonaws.com' }),
    );
    expect(forCloudWatch).toHaveLength(1);
    expect(forCloudWatch[0]?.Condition).toEqual({
      StringEquals: { 'aws:SourceAccount': '123456789012' },
      ArnLike: { 'aws:SourceArn': 'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:*' },
    });
  });

  test('has exactly one dashboard', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  test('charts each of the six functions on the dashboard', () => {
    const [dashboard] = Object.values(resourcesOfType(template, 'AWS::CloudWatch::Dashboard'));
    const body = JSON.stringify(dashboard?.Properties.DashboardBody);
    for (const functionId of functionIds) {
      expect({ functionId, charted: body.includes(JSON.stringify(ref(functionId))) }).toEqual({
        functionId,
        charted: true,
      });
    }
  });

  test('charts every business metric of every function that emits it, in the stack’s namespace', () => {
    const charted = new Set(
      dashboardLines(template)
        .filter((line) => line[0] === stack.stackName && line[2] === METRIC_DIMENSIONS.service)
        .map((line) => `${String(line[3])} ${String(line[1])}`),
    );
    const emitted: Record<string, MetricName[]> = {
      api: [
        METRICS.customersCreated,
        METRICS.customersUpdated,
        METRICS.customersDeleted,
        ...ANSWERS,
      ],
      'avatar-upload': ANSWERS,
      'stream-publisher': [METRICS.eventsPublished, ...RECORDS],
      welcome: [
        METRICS.welcomesSent,
        METRICS.welcomesSkippedDuplicate,
        METRICS.welcomesSkippedDeleted,
        ...RECORDS,
      ],
      archive: [METRICS.archiveVersionsWritten, METRICS.archiveStaleEventsIgnored, ...RECORDS],
      marketing: [METRICS.contactsAdded, METRICS.contactsRemoved, ...RECORDS],
      avatar: [METRICS.avatarsPublished, METRICS.avatarsErased, ...ANSWERS, ...RECORDS],
    };
    const expected = Object.entries(emitted).flatMap(([service, names]) =>
      names.map((name) => `${service} ${name}`),
    );
    expect([...charted].sort()).toEqual(expected.sort());
    // Every metric of the contract is charted somewhere.
    const chartedNames = new Set([...charted].map((line) => line.split(' ')[1]));
    expect([...chartedNames].sort()).toEqual(Object.values(METRICS).sort());
  });

  test('charts the records failed by function and reason with one search', () => {
    const searches = dashboardLines(template).flatMap((line) => {
      const [only] = line;
      return line.length === 1 && typeof only === 'object' && only !== null && 'expression' in only
        ? [(only as { expression: string }).expression]
        : [];
    });
    expect(searches).toEqual([
      `SEARCH('{${stack.stackName},service,reason} MetricName="RecordsFailed"', 'Sum', 300)`,
    ]);
  });

  test('without alarmEmail, nobody is subscribed to the alarm topic', () => {
    expect(subscriptionsOfTopic(template, alarmTopicId)).toEqual([]);
  });

  test('with alarmEmail, that address is subscribed to the alarm topic', () => {
    const { stack, template: withEmail } = synthPipeline('dev', {
      context: { alarmEmail: 'ops@example.com' },
    });
    const [monitoring] = constructsOfType(stack, Monitoring);
    if (!monitoring) throw new Error('expected monitoring');
    const topicId = logicalIdOf(stack, monitoring.alarmTopic);
    expect(subscriptionsOfTopic(withEmail, topicId).map((s) => s.Properties)).toEqual([
      expect.objectContaining({ Protocol: 'email', Endpoint: 'ops@example.com' }),
    ]);
  });
});
