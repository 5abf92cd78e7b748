import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as lambdaEventSources from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { LAMBDA_FAILURE_PREFIX, UNPUBLISHABLE_PREFIX } from '../../lambda/shared/contract';
import { PROFILE_SK } from '../../lambda/shared/domain/keys';
import { markResource } from '../resource-names';
import { BUCKET_SAFETY, bucketLifetime } from './bucket-settings';
import type { CanaryDeployments } from './canary';
import { PipelineFunction } from './pipeline-function';

/** The failure bucket's request metrics filter: every object written to it. */
export const FAILURE_BUCKET_WRITES_FILTER = 'Writes';

export interface StreamPublisherProps {
  readonly table: dynamodb.ITable;
  readonly topic: sns.ITopic;
  /** Receives the failure bucket's server access logs. */
  readonly accessLogsBucket: s3.IBucket;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /**
   * Oldest record the mapping still retries; an older one goes to the failure bucket.
   * Keep it well inside the stream's 24 h, or a record can be trimmed before it gets there.
   * @default Duration.hours(12)
   */
  readonly maxRecordAge?: Duration;
  /**
   * Canary deploys for the function(s) (`PipelineFunction`'s `canary`).
   * @default - deploys reach every invocation at once
   */
  readonly canary?: CanaryDeployments;
}

/**
 * The failure bucket as the mapping's on-failure destination, with only what AWS requires
 * of the execution role (s3:PutObject and s3:ListBucket). CDK's S3OnFailureDestination
 * grants read, write and delete on the whole bucket.
 */
class FailureBucketDestination implements lambda.IEventSourceDlq {
  constructor(
    private readonly bucket: s3.IBucket,
    private readonly grantWrite: (grantee: iam.IGrantable, prefix: string) => void,
  ) {}

  bind(_target: lambda.IEventSourceMapping, targetHandler: lambda.IFunction) {
    this.grantWrite(targetHandler, LAMBDA_FAILURE_PREFIX);
    iam.Grant.addToPrincipal({
      grantee: targetHandler,
      actions: ['s3:ListBucket'],
      resourceArns: [this.bucket.bucketArn],
    });
    return { destination: this.bucket.bucketArn };
  }
}

/**
 * Turns changes of customer profiles on the table's stream into customer events on
 * the topic. Only profile items reach it: the consumers write other items into the
 * same table, and without the filter their writes would come back as events.
 *
 * Nothing is lost for good: a failing record is retried, however often, until it is
 * `maxRecordAge` old, then Lambda writes it, payload and all, to the failure bucket; a
 * record that can never be published the function writes there itself and skips. Both
 * are replayed with `npm run dlq -- replay`.
 */
export class StreamPublisher extends Construct {
  public readonly function: PipelineFunction;
  /** Where records given up on are kept whole: nothing is dropped silently. */
  public readonly failureBucket: s3.Bucket;
  public readonly eventSource: lambdaEventSources.DynamoEventSource;

  constructor(scope: Construct, id: string, props: StreamPublisherProps) {
    super(scope, id);
    this.failureBucket = new s3.Bucket(this, 'FailureBucket', {
      // AWS recommends it for on-failure buckets: an object deleted by mistake stays recoverable.
      versioned: true,
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: 'stream-failures/',
      // A current object is the only copy of records not yet replayed: none expires. What a
      // replay deleted holds personal data and has been published: it goes after a week.
      lifecycleRules: [
        {
          id: 'ExpireReplayed',
          noncurrentVersionExpiration: Duration.days(7),
          expiredObjectDeleteMarker: true,
        },
        { id: 'AbortIncompleteUploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      // Request metrics: the alarm counts writes, Lambda's and the function's alike.
      metrics: [{ id: FAILURE_BUCKET_WRITES_FILTER }],
      ...bucketLifetime(props.removalPolicy === RemovalPolicy.RETAIN),
      ...BUCKET_SAFETY,
    });
    markResource(this.failureBucket, 'stream-publisher', 'failure-bucket');

    this.function = new PipelineFunction(this, 'Function', {
      handlerDir: 'stream-publisher',
      description: 'Publishes customer profile changes from the table stream as events',
      memorySize: 256,
      timeout: Duration.seconds(30),
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
      canary: props.canary,
      environment: {
        TOPIC_ARN: props.topic.topicArn,
        FAILURE_BUCKET_NAME: this.failureBucket.bucketName,
      },
    });
    props.topic.grantPublish(this.function);
    Validations.of(this.function.role ?? this.function).acknowledge({
      id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
      reason:
        "Publishing to an encrypted topic needs GenerateDataKey* on the topic's key, and only that key.",
    });
    const bucketLogicalId = Stack.of(this).resolve(
      (this.failureBucket.node.defaultChild as s3.CfnBucket).logicalId,
    );
    const grantWrite = (grantee: iam.IGrantable, prefix: string) => {
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['s3:PutObject'],
        resourceArns: [this.failureBucket.arnForObjects(`${prefix}*`)],
        // AWS's advice for on-failure buckets: were the bucket ever deleted and its name
        // taken in another account, records would not follow it there.
        conditions: { StringEquals: { 's3:ResourceAccount': Stack.of(this).account } },
      });
      Validations.of(this.function.role ?? this.function).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${bucketLogicalId}.Arn>/${prefix}*]`,
        reason: `Failure records are written under ${prefix}, one object per record or batch, named as they are written.`,
      });
    };
    grantWrite(this.function, UNPUBLISHABLE_PREFIX);

    this.eventSource = new lambdaEventSources.DynamoEventSource(props.table, {
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: 100,
      maxBatchingWindow: Duration.seconds(1),
      bisectBatchOnError: true,
      // Unbounded: a transient failure (SNS or KMS throttling) is retried until the record
      // is maxRecordAge old, not given up on after a few minutes.
      retryAttempts: -1,
      maxRecordAge: props.maxRecordAge ?? Duration.hours(12),
      reportBatchItemFailures: true,
      onFailure: new FailureBucketDestination(this.failureBucket, grantWrite),
      filters: [
        lambda.FilterCriteria.filter({
          dynamodb: { Keys: { sk: { S: lambda.FilterRule.isEqual(PROFILE_SK) } } },
        }),
      ],
    });
    this.function.addEventSource(this.eventSource);
  }
}
