import * as path from 'node:path';
import { type Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { BUNDLE_FILE, bundledCode, LAMBDA_ROOT } from '../bundling';
import { markResource } from '../resource-names';

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
}

/**
 * Every function of the pipeline, with the defaults they all share: Node.js 24 on
 * arm64, a minified ESM bundle with the AWS SDK inside (lib/bundling.ts), X-Ray
 * tracing, its own log group with a retention, and a role that may write only to
 * that log group.
 */
export class PipelineFunction extends lambda.Function {
  /** The folder under `lambda/` whose handler this function runs. */
  public readonly handlerDir: string;

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
        ...props.environment,
      },
    });
    this.handlerDir = props.handlerDir;
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
}
