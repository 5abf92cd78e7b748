import * as path from 'node:path';
import { type Duration, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { METRIC_DIMENSIONS, type MetricName } from '../../lambda/shared/contract';
import { BUNDLE_FILE, bundledCode, LAMBDA_ROOT } from '../bundling';
import { markResource } from '../resource-names';
import type { CanaryDeployments, FunctionCanary } from './canary';

/**
 * The namespace of the handlers' business metrics: the stack's name, so two stages (or two
 * copies of the stack) in one account never add up in one series.
 */
export const metricsNamespace = (scope: Construct): string => Stack.of(scope).stackName;

/**
 * `alias` as an event source's target, except that its mappings are created under `fn` with the
 * ids they have when they target `fn`: the same logical ids, so pointing an existing mapping at
 * the alias is an in-place update of its FunctionName, which keeps its position in the stream.
 * (CDK's `alias.addEventSource` would create a new mapping under the alias and delete the old
 * one: a new stream mapping starts at TRIM_HORIZON and replays up to 24 hours of changes.)
 */
const aliasKeepingMappingIds = (fn: lambda.Function, alias: lambda.Alias): lambda.IFunction =>
  Object.create(alias, {
    addEventSourceMapping: {
      value: (id: string, options: lambda.EventSourceMappingOptions) =>
        new lambda.EventSourceMapping(fn, id, { ...options, target: alias }),
    },
  });

export interface PipelineFunctionProps {
  /** The folder under `lambda/` whose `handler.ts` exports `handler`. */
  readonly handlerDir: string;
  readonly description: string;
  /** Chosen per function: memory also buys CPU, which dominates cold start. */
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly logRetention: logs.RetentionDays;
  /** Whether the function's log group outlives the stack. */
  readonly removalPolicy: RemovalPolicy;
  /**
   * Extra environment variables; the construct adds `POWERTOOLS_SERVICE_NAME`
   * and keeps every variable given here.
   * @default - none
   */
  readonly environment?: Record<string, string>;
  /**
   * Canary deploys: the function gets a `live` alias that every invoker calls and a CodeDeploy
   * deployment group that moves it, rolling back on the new version's alarms.
   * @default - no alias: invokers call the function, and a deploy reaches every invocation at once
   */
  readonly canary?: CanaryDeployments;
}

/**
 * Every function of the pipeline, with the defaults they all share: Node.js 24 on
 * arm64, a minified ESM bundle with the AWS SDK inside (lib/bundling.ts), X-Ray
 * tracing, its own log group with a retention, and a role that may write only to
 * that log group.
 */
export class PipelineFunction extends lambda.Function {
  /** The folder under `lambda/` whose handler this function runs: its metrics' `service`. */
  public readonly handlerDir: string;
  /** The `live` alias and its deployment group, under canary deploys. */
  public readonly canary?: FunctionCanary;

  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    const logGroup = new logs.LogGroup(scope, `${id}LogGroup`, {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    // An own role instead of the AWSLambdaBasicExecutionRole managed policy, whose
    // log permissions cover every log group of the account.
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${props.description}`,
    });
    logGroup.grant(role, 'logs:CreateLogStream', 'logs:PutLogEvents');

    super(scope, id, {
      code: bundledCode(path.join(LAMBDA_ROOT, props.handlerDir, 'handler.ts')),
      handler: `${path.parse(BUNDLE_FILE).name}.handler`,
      description: props.description,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      // Each invocation's segment (initialization, invocation, overhead), and the trace id
      // on every log line (Powertools Logger's xray_trace_id). No Powertools Tracer for
      // the SDK calls' subsegments: it would bundle the X-Ray SDK into every function, and
      // cold starts are what the benchmark finds short of its goal. A failing AWS call is
      // logged with its error instead, on a line that carries the trace id.
      tracing: lambda.Tracing.ACTIVE,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      role,
      environment: {
        POWERTOOLS_SERVICE_NAME: props.handlerDir,
        POWERTOOLS_METRICS_NAMESPACE: metricsNamespace(scope),
        ...props.environment,
      },
    });
    this.handlerDir = props.handlerDir;
    this.canary = props.canary?.manage(this);
    markResource(this, props.handlerDir, 'function');
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        "X-Ray's PutTraceSegments and PutTelemetryRecords (and a stream reader's dynamodb:ListStreams) have no resource-level permissions.",
    });
    Validations.of(this).acknowledge({
      id: 'Serverless-LambdaDLQ',
      reason:
        'Never invoked asynchronously: the API calls it synchronously and event source mappings drive the rest; their failures land in queue dead-letter queues or the stream on-failure queue.',
    });
  }

  /** What every invoker calls: the `live` alias under canary deploys, else the function. */
  public get target(): lambda.IFunction {
    return this.canary?.alias ?? this;
  }

  /**
   * Under canary deploys, the mapping targets the `live` alias (with the logical id it has
   * without), and the new version's failed records join the rollback alarms.
   */
  public override addEventSource(source: lambda.IEventSource): void {
    if (this.canary === undefined) {
      super.addEventSource(source);
      return;
    }
    source.bind(aliasKeepingMappingIds(this, this.canary.alias));
    this.canary.watch('records');
  }

  /** What an API integration calls; under canary deploys the new version's 5xx join the rollback alarms. */
  public servedByApi(): lambda.IFunction {
    this.canary?.watch('answers');
    return this.target;
  }

  /** One of the handler's business metrics (`METRICS`), across its versions. */
  public businessMetric(
    metricName: MetricName,
    props?: cloudwatch.MetricOptions,
  ): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: metricsNamespace(this),
      metricName,
      dimensionsMap: { [METRIC_DIMENSIONS.service]: this.handlerDir },
      statistic: cloudwatch.Stats.SUM,
      ...props,
    });
  }
}
