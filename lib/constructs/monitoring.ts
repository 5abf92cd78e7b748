import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRIC_DIMENSIONS, METRICS, type MetricName } from '../../lambda/shared/contract';
import type { PipelineFunction } from './pipeline-function';

/** The business metrics' charts sum over this period. */
const BUSINESS_PERIOD = Duration.minutes(5);

/** The functions whose business metrics the dashboard charts, by what they do. */
export interface PipelineFunctions {
  readonly api: PipelineFunction;
  readonly avatarUpload: PipelineFunction;
  readonly streamPublisher: PipelineFunction;
  readonly welcome: PipelineFunction;
  readonly archive: PipelineFunction;
  readonly marketing: PipelineFunction;
  readonly avatar: PipelineFunction;
}

/** Stream records older than this mean the publisher is falling behind or stuck. */
const ITERATOR_AGE_THRESHOLD = Duration.minutes(5);

export interface MonitoringProps {
  /** Shown as the dashboard's name prefix. */
  readonly dashboardName: string;
  /**
   * Subscribes this address to the alarm topic.
   * @default - no subscriber; subscribe one after deploy
   */
  readonly alarmEmail?: string;
  /**
   * Keep the alarm topic's key when the stack is deleted.
   * @default false
   */
  readonly retainData?: boolean;
}

/**
 * Alarms and one dashboard for the pipeline. Every alarm notifies `alarmTopic`,
 * which is encrypted with a key whose policy lets CloudWatch use it: without that
 * grant, alarm notifications to an encrypted topic silently never arrive.
 */
export class Monitoring extends Construct {
  public readonly alarmTopic: sns.Topic;
  public readonly dashboard: cloudwatch.Dashboard;
  public readonly alarms: cloudwatch.Alarm[] = [];
  private readonly alarmAction: actions.SnsAction;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const key = new kms.Key(this, 'AlarmTopicKey', {
      description: 'Encrypts pipeline alarm notifications',
      enableKeyRotation: true,
      pendingWindow: Duration.days(7),
      removalPolicy: props.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    // Only for alarms of this account and region: the service principal alone would let
    // any account's alarm use the key (the confused deputy).
    const stack = Stack.of(this);
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': stack.formatArn({
              service: 'cloudwatch',
              resource: 'alarm',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'Customer pipeline alarms',
      masterKey: key,
      enforceSSL: true,
    });
    if (props.alarmEmail) {
      this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    }
    this.alarmAction = new actions.SnsAction(this.alarmTopic);
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
    });
  }

  /** Alarms as soon as `queue` holds a message: a dead letter always needs a human. */
  public watchDeadLetterQueue(id: string, queue: sqs.IQueue): void {
    const depth = queue.metricApproximateNumberOfMessagesVisible({
      period: Duration.minutes(1),
      statistic: cloudwatch.Stats.MAXIMUM,
    });
    this.addAlarm(`${id}DepthAlarm`, {
      metric: depth,
      threshold: 1,
      alarmDescription: `Dead-letter queue ${id} holds messages: see the README's DLQ runbook`,
    });
    this.dashboard.addWidgets(new cloudwatch.GraphWidget({ title: `${id} depth`, left: [depth] }));
  }

  /**
   * Alarms as soon as an object is written to `bucket` (its request metrics filter
   * `filterId`): a stream record given up on always needs a human. Unlike a queue's depth,
   * the count of writes falls back to zero while the objects stay: `npm run dlq -- list`
   * says what is left, and the dashboard charts the objects held (a daily metric).
   */
  public watchFailureBucket(id: string, bucket: s3.IBucket, filterId: string): void {
    const writes = new cloudwatch.Metric({
      namespace: 'AWS/S3',
      metricName: 'PutRequests',
      dimensionsMap: { BucketName: bucket.bucketName, FilterId: filterId },
      period: Duration.minutes(1),
      statistic: cloudwatch.Stats.SUM,
    });
    const held = new cloudwatch.Metric({
      namespace: 'AWS/S3',
      metricName: 'NumberOfObjects',
      dimensionsMap: { BucketName: bucket.bucketName, StorageType: 'AllStorageTypes' },
      period: Duration.days(1),
      statistic: cloudwatch.Stats.AVERAGE,
    });
    this.addAlarm(`${id}WritesAlarm`, {
      metric: writes,
      threshold: 1,
      alarmDescription: `Stream records were written to failure bucket ${id}: see the README's DLQ runbook`,
    });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: `${id} writes and objects`,
        left: [writes],
        right: [held],
      }),
    );
  }

  /** Alarms on any error of `fn`, and charts its invocations, errors and duration. */
  public watchFunction(id: string, fn: lambda.IFunction): void {
    const errors = fn.metricErrors({
      period: Duration.minutes(5),
      statistic: cloudwatch.Stats.SUM,
    });
    this.addAlarm(`${id}ErrorsAlarm`, {
      metric: errors,
      threshold: 1,
      alarmDescription: `Function ${id} reported errors`,
    });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: `${id} invocations and errors`,
        left: [fn.metricInvocations(), errors],
        right: [fn.metricDuration({ statistic: cloudwatch.Stats.p(95) })],
      }),
    );
  }

  /**
   * Alarms on any 5xx answer of the API's stage, and charts its requests, 4xx, 5xx and
   * latency. A handler that catches an error and answers 500 or 503 is no Lambda error,
   * so only this alarm sees it.
   */
  public watchHttpApi(id: string, stage: apigwv2.IHttpStage): void {
    const period = Duration.minutes(5);
    const serverErrors = stage.metricServerError({ period, statistic: cloudwatch.Stats.SUM });
    this.addAlarm(`${id}ServerErrorsAlarm`, {
      metric: serverErrors,
      threshold: 1,
      alarmDescription: `API ${id} answered with 5xx: see the api function's logs`,
    });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: `${id} requests and errors`,
        left: [
          stage.metricCount({ period, statistic: cloudwatch.Stats.SUM }),
          stage.metricClientError({ period, statistic: cloudwatch.Stats.SUM }),
          serverErrors,
        ],
        right: [stage.metricLatency({ period, statistic: cloudwatch.Stats.p(95) })],
      }),
    );
  }

  /** Alarms when the oldest stream record `fn` reads is older than five minutes. */
  public watchStreamConsumer(id: string, fn: lambda.IFunction): void {
    const iteratorAge = fn.metric('IteratorAge', {
      period: Duration.minutes(1),
      statistic: cloudwatch.Stats.MAXIMUM,
    });
    this.addAlarm(`${id}IteratorAgeAlarm`, {
      metric: iteratorAge,
      threshold: ITERATOR_AGE_THRESHOLD.toMilliseconds(),
      evaluationPeriods: 5,
      alarmDescription: `Function ${id} is more than ${ITERATOR_AGE_THRESHOLD.toHumanString()} behind the table stream`,
    });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: `${id} iterator age`, left: [iteratorAge] }),
    );
  }

  /**
   * Charts the handlers' business metrics (docs/operations.md, "Business metrics"): what the
   * pipeline did, the API's answers by status class, and the records each consumer was handed
   * and failed, by reason.
   */
  public chartBusinessMetrics(fns: PipelineFunctions): void {
    const graph = (
      title: string,
      lines: [PipelineFunction, MetricName][],
      right: [PipelineFunction, MetricName][] = [],
    ) =>
      new cloudwatch.GraphWidget({
        title,
        left: lines.map(([fn, name]) => fn.businessMetric(name, { period: BUSINESS_PERIOD })),
        right: right.map(([fn, name]) => fn.businessMetric(name, { period: BUSINESS_PERIOD })),
      });
    const labelled = (fn: PipelineFunction, name: MetricName) =>
      fn.businessMetric(name, { period: BUSINESS_PERIOD, label: `${fn.handlerDir} ${name}` });
    const recordConsumers = [
      fns.streamPublisher,
      fns.welcome,
      fns.archive,
      fns.marketing,
      fns.avatar,
    ];
    const apiFunctions = [fns.api, fns.avatarUpload, fns.avatar];
    const answers = [
      METRICS.answers2xx,
      METRICS.answers3xx,
      METRICS.answers4xx,
      METRICS.answers5xx,
    ];
    const namespace = fns.api.businessMetric(METRICS.recordsFailed).namespace;
    this.dashboard.addWidgets(
      graph(
        'Customers created, updated, deleted; events published',
        [
          [fns.api, METRICS.customersCreated],
          [fns.api, METRICS.customersUpdated],
          [fns.api, METRICS.customersDeleted],
        ],
        [[fns.streamPublisher, METRICS.eventsPublished]],
      ),
      graph('Welcomes', [
        [fns.welcome, METRICS.welcomesSent],
        [fns.welcome, METRICS.welcomesSkippedDuplicate],
        [fns.welcome, METRICS.welcomesSkippedDeleted],
      ]),
      graph('Archive', [
        [fns.archive, METRICS.archiveVersionsWritten],
        [fns.archive, METRICS.archiveStaleEventsIgnored],
      ]),
      graph('Marketing contacts and avatars', [
        [fns.marketing, METRICS.contactsAdded],
        [fns.marketing, METRICS.contactsRemoved],
        [fns.avatar, METRICS.avatarsPublished],
        [fns.avatar, METRICS.avatarsErased],
      ]),
      new cloudwatch.GraphWidget({
        title: 'API answers by status class',
        left: apiFunctions.flatMap((fn) => answers.map((name) => labelled(fn, name))),
      }),
      new cloudwatch.GraphWidget({
        title: 'Records failed (left) and received (right), per function',
        left: recordConsumers.map((fn) => labelled(fn, METRICS.recordsFailed)),
        right: recordConsumers.map((fn) => labelled(fn, METRICS.recordsReceived)),
      }),
      new cloudwatch.GraphWidget({
        title: 'Records failed, by function and reason',
        left: [
          new cloudwatch.MathExpression({
            expression: `SEARCH('{${namespace},${METRIC_DIMENSIONS.service},${METRIC_DIMENSIONS.reason}} MetricName="${METRICS.recordsFailed}"', 'Sum', ${BUSINESS_PERIOD.toSeconds()})`,
            usingMetrics: {},
            label: '',
          }),
        ],
      }),
    );
  }

  /** Shows `alarms`' states in one widget (the canary deploys' rollback alarms). */
  public showAlarms(title: string, alarms: readonly cloudwatch.IAlarm[]): void {
    if (alarms.length === 0) return;
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title, alarms: [...alarms], width: 24, height: 6 }),
    );
  }

  private addAlarm(
    id: string,
    props: Pick<cloudwatch.AlarmProps, 'metric' | 'threshold' | 'alarmDescription'> &
      Partial<Pick<cloudwatch.AlarmProps, 'evaluationPeriods'>>,
  ): void {
    const alarm = new cloudwatch.Alarm(this, id, {
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      ...props,
    });
    alarm.addAlarmAction(this.alarmAction);
    this.alarms.push(alarm);
  }
}
