import { Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as lambdaEventSources from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { PROFILE_SK } from '../../lambda/shared/domain/keys';
import { PipelineFunction } from './pipeline-function';
import { deadLetterQueue } from './queues';

export interface StreamPublisherProps {
  readonly table: dynamodb.ITable;
  readonly topic: sns.ITopic;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /**
   * Attempts after the first before a batch goes to the on-failure queue.
   * @default 5
   */
  readonly retryAttempts?: number;
  /**
   * Oldest record the mapping still sends to the function.
   * @default Duration.hours(6)
   */
  readonly maxRecordAge?: Duration;
}

/**
 * Turns changes of customer profiles on the table's stream into customer events on
 * the topic. Only profile items reach it: the consumers write other items into the
 * same table, and without the filter their writes would come back as events.
 */
export class StreamPublisher extends Construct {
  public readonly function: PipelineFunction;
  /** Where the stream mapping sends records it gave up on: nothing is dropped silently. */
  public readonly failureQueue: sqs.Queue;
  public readonly eventSource: lambdaEventSources.DynamoEventSource;

  constructor(scope: Construct, id: string, props: StreamPublisherProps) {
    super(scope, id);
    this.failureQueue = deadLetterQueue(this, 'FailureQueue');
    Validations.of(this.failureQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        "This queue is the stream mapping's on-failure destination: the last stop, alarmed on.",
    });

    this.function = new PipelineFunction(this, 'Function', {
      handlerDir: 'stream-publisher',
      description: 'Publishes customer profile changes from the table stream as events',
      memorySize: 256,
      timeout: Duration.seconds(30),
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
      environment: { TOPIC_ARN: props.topic.topicArn },
    });
    props.topic.grantPublish(this.function);
    Validations.of(this.function.role ?? this.function).acknowledge({
      id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
      reason:
        "Publishing to an encrypted topic needs GenerateDataKey* on the topic's key, and only that key.",
    });

    this.eventSource = new lambdaEventSources.DynamoEventSource(props.table, {
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: 100,
      maxBatchingWindow: Duration.seconds(1),
      bisectBatchOnError: true,
      retryAttempts: props.retryAttempts ?? 5,
      maxRecordAge: props.maxRecordAge ?? Duration.hours(6),
      reportBatchItemFailures: true,
      onFailure: new lambdaEventSources.SqsDlq(this.failureQueue),
      filters: [
        lambda.FilterCriteria.filter({
          dynamodb: { Keys: { sk: { S: lambda.FilterRule.isEqual(PROFILE_SK) } } },
        }),
      ],
    });
    this.function.addEventSource(this.eventSource);
  }
}
