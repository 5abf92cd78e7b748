import { Duration, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambdaEventSources from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { AVATAR_UPLOADS_PREFIX, AVATARS_PREFIX } from '../../lambda/shared/contract';
import { MESSAGE_TYPE_ATTRIBUTE } from '../../lambda/shared/domain/events';
import { markResource } from '../resource-names';
import type { AssetsBucket } from './assets-bucket';
import type { CanaryDeployments } from './canary';
import { consumerVisibilityTimeout, EventConsumer, MAX_RECEIVE_COUNT } from './event-consumer';
import type { PipelineFunction } from './pipeline-function';
import { deadLetterQueue, secureQueue } from './queues';

/** The avatar function's name: its folder under `lambda/`, its service, its deletion queues. */
export const AVATAR_FUNCTION = 'avatar';
/** The name of the queue S3 notifies of uploads, and of its dead-letter queue. */
export const AVATAR_UPLOADS_QUEUE = 'avatar-uploads';

/**
 * Every prefix the avatar function writes. The notification's prefix filter must match none of
 * them, or the function's own write would notify it again: the recursion AWS warns of.
 */
export const AVATAR_FUNCTION_WRITE_PREFIXES = [AVATARS_PREFIX] as const;

/** Decoding an image of up to 25 MP takes about 100 MB, and memory buys the CPU it needs. */
const MEMORY_MB = 1024;
/** Also serves the API (whose integration gives up at 30 s): the redirect takes milliseconds. */
const TIMEOUT = Duration.seconds(30);
const BATCHING_WINDOW = Duration.seconds(1);

export interface AvatarsProps {
  readonly topic: sns.ITopic;
  readonly table: dynamodb.ITable;
  readonly assets: AssetsBucket;
  /** The largest upload the presigned form admits; the function refuses anything larger too. */
  readonly maxBytes: number;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /**
   * The `CustomerDeleted` subscription's queues are FIFO (the topic is, in a `perCustomer`
   * stage). The uploads queue stays standard: S3 cannot notify a FIFO queue.
   * @default false
   */
  readonly fifo?: boolean;
  /**
   * Canary deploys for the function(s) (`PipelineFunction`'s `canary`).
   * @default - deploys reach every invocation at once
   */
  readonly canary?: CanaryDeployments;
}

/**
 * An S3 notification destination that admits only this bucket in this account: the queue's
 * policy conditions on `aws:SourceArn` and `aws:SourceAccount`, as AWS's confused-deputy
 * guidance says (CDK's `SqsDestination` adds the first only, with actions S3 never uses).
 */
class QueueForBucket implements s3.IBucketNotificationDestination {
  constructor(private readonly queue: sqs.Queue) {}

  bind(_scope: Construct, bucket: s3.IBucket): s3.BucketNotificationDestinationConfig {
    const { policyDependable } = this.queue.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('s3.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [this.queue.queueArn],
        conditions: {
          ArnEquals: { 'aws:SourceArn': bucket.bucketArn },
          StringEquals: { 'aws:SourceAccount': Stack.of(this.queue).account },
        },
      }),
    );
    return {
      type: s3.BucketNotificationDestinationType.QUEUE,
      arn: this.queue.queueArn,
      // S3 checks it may send when the configuration is put: the policy must exist first.
      dependencies: policyDependable === undefined ? [] : [policyDependable],
    };
  }
}

/**
 * CDK's notifications handler: one Python function per stack that puts the bucket's
 * notification configuration at deploy time (`Custom::S3BucketNotifications`). It is CDK's,
 * not the pipeline's: its findings are acknowledged here, each for what it is, and the
 * project's function rules (tests, bench) leave it out by this id prefix.
 */
export const NOTIFICATIONS_HANDLER_ID_PREFIX = 'BucketNotificationsHandler';

const acknowledgeNotificationsHandler = (stack: Stack): void => {
  const handler = stack.node.children.find((child) =>
    child.node.id.startsWith(NOTIFICATIONS_HANDLER_ID_PREFIX),
  );
  if (handler === undefined) return;
  const role = handler.node.tryFindChild('Role') ?? handler;
  Validations.of(role).acknowledge(
    {
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason:
        "CDK's bucket notifications handler runs once per deploy; its role is CDK's, with the basic execution policy.",
    },
    {
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        "CDK's bucket notifications handler puts the configuration of a bucket named at deploy time; s3:PutBucketNotification is granted by CDK.",
    },
  );
};

/**
 * Avatars end to end: S3 notifies a queue of each upload under `avatar-uploads/`; the avatar
 * function checks it, publishes a resized image under `avatars/` and records it on the
 * customer. The same function erases a deleted customer's avatars (a subscription to
 * `CustomerDeleted`) and serves `GET /customers/{id}/avatar` (the stack adds the route).
 */
export class Avatars extends Construct {
  public readonly function: PipelineFunction;
  /** The `CustomerDeleted` subscription's queue and its two dead-letter queues. */
  public readonly deletions: EventConsumer;
  public readonly uploadsQueue: sqs.Queue;
  public readonly uploadsDeadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: AvatarsProps) {
    super(scope, id);
    const { assets } = props;

    this.deletions = new EventConsumer(this, 'Deletions', {
      topic: props.topic,
      handlerDir: AVATAR_FUNCTION,
      description:
        "Publishes customers' uploaded avatars resized, and erases them with the customer",
      filterPolicy: {
        [MESSAGE_TYPE_ATTRIBUTE]: sns.SubscriptionFilter.stringFilter({
          allowlist: ['CustomerDeleted'],
        }),
      },
      memorySize: MEMORY_MB,
      timeout: TIMEOUT,
      maxBatchingWindow: BATCHING_WINDOW,
      fifo: props.fifo,
      canary: props.canary,
      environment: {
        TABLE_NAME: props.table.tableName,
        BUCKET_NAME: assets.bucket.bucketName,
        AVATAR_MAX_BYTES: String(props.maxBytes),
      },
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    this.function = this.deletions.function;

    this.uploadsDeadLetterQueue = deadLetterQueue(this, 'UploadsDeadLetterQueue');
    this.uploadsQueue = secureQueue(this, 'UploadsQueue', {
      visibilityTimeout: consumerVisibilityTimeout(TIMEOUT, BATCHING_WINDOW),
      deadLetterQueue: { queue: this.uploadsDeadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
    });
    markResource(this.uploadsQueue, AVATAR_UPLOADS_QUEUE, 'queue');
    markResource(this.uploadsDeadLetterQueue, AVATAR_UPLOADS_QUEUE, 'dead-letter-queue');
    assets.bucket.addEventNotification(
      s3.EventType.OBJECT_CREATED,
      new QueueForBucket(this.uploadsQueue),
      { prefix: AVATAR_UPLOADS_PREFIX },
    );
    acknowledgeNotificationsHandler(Stack.of(this));
    // One upload per invocation: a decoder that traps retires its environment (the handler's
    // comment), and with one message that costs nothing but that upload's own redelivery.
    this.function.addEventSource(
      new lambdaEventSources.SqsEventSource(this.uploadsQueue, {
        batchSize: 1,
        maxBatchingWindow: BATCHING_WINDOW,
        reportBatchItemFailures: true,
      }),
    );
    this.function.addEnvironment('UPLOADS_QUEUE_ARN', this.uploadsQueue.queueArn);

    // The profile's point read and the conditional update that records the avatar.
    props.table.grant(this.function, 'dynamodb:GetItem', 'dynamodb:UpdateItem');
    // Uploads: read and deleted by version id only. A read of a version asks for
    // s3:GetObjectVersion alone; a delete always asks for s3:DeleteObject, and for
    // s3:DeleteObjectVersion when it names a version.
    assets.grantObjectActions(
      this.function,
      AVATAR_UPLOADS_PREFIX,
      's3:GetObjectVersion',
      's3:DeleteObject',
      's3:DeleteObjectVersion',
    );
    // Published avatars: written, served by version through a presigned GET (signed with this
    // role), and erased; legacy `avatars/<id>` uploads are under the same prefix.
    assets.grantObjectActions(
      this.function,
      AVATARS_PREFIX,
      's3:PutObject',
      's3:GetObjectVersion',
      's3:DeleteObject',
      's3:DeleteObjectVersion',
    );
    assets.grantListVersions(this.function, [AVATAR_UPLOADS_PREFIX, AVATARS_PREFIX]);
  }
}
