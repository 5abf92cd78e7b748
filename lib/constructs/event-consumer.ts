import { Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as lambdaEventSources from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { markResource } from '../resource-names';
import type { CanaryDeployments } from './canary';
import { PipelineFunction } from './pipeline-function';
import { deadLetterQueue, FIFO_QUEUE_PROPS, secureQueue } from './queues';

/** Receives after which SQS moves a message to the dead-letter queue: the 4th receive never happens. */
export const MAX_RECEIVE_COUNT = 3;

/** AWS's guidance for SQS event sources: visibility timeout ≥ 6 × the function timeout. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

/** A consumer queue's visibility timeout: six function timeouts, plus the batching window. */
export const consumerVisibilityTimeout = (timeout: Duration, batchingWindow?: Duration): Duration =>
  Duration.seconds(
    timeout.toSeconds() * VISIBILITY_TIMEOUT_FACTOR + (batchingWindow?.toSeconds() ?? 0),
  );

export interface EventConsumerProps {
  readonly topic: sns.ITopic;
  /** The folder under `lambda/` holding the consumer's `handler.ts`. */
  readonly handlerDir: string;
  readonly description: string;
  /**
   * Attribute-scope filter policy (on SNS message attributes such as `MessageType`).
   * Exactly one of `filterPolicy` and `filterPolicyWithMessageBody` is required.
   * @default - no attribute filter
   */
  readonly filterPolicy?: { [attribute: string]: sns.SubscriptionFilter };
  /**
   * Body-scope filter policy (`FilterPolicyScope: MessageBody`). Keep it to plain
   * keys: a top-level `$or` crashes publishing in the local emulator.
   * @default - no body filter
   */
  readonly filterPolicyWithMessageBody?: { [key: string]: sns.FilterOrPolicy };
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /**
   * Environment of the consumer function, besides what grants add later.
   * @default - none
   */
  readonly environment?: Record<string, string>;
  /**
   * Memory of the consumer function, in MB.
   * @default 256 - the consumers are I/O-bound
   */
  readonly memorySize?: number;
  /**
   * Timeout of the consumer function: one batch's worth of downstream calls.
   * @default Duration.seconds(30)
   */
  readonly timeout?: Duration;
  /**
   * Messages per invocation.
   * @default 10
   */
  readonly batchSize?: number;
  /**
   * How long the poller gathers messages before invoking (none on a FIFO queue: Lambda
   * allows no batching window there).
   * @default Duration.seconds(1)
   */
  readonly maxBatchingWindow?: Duration;
  /**
   * FIFO queues, for a FIFO topic (a `perCustomer` stage): the queue and both dead-letter
   * queues, with deduplication and throughput per message group.
   * @default false - standard queues
   */
  readonly fifo?: boolean;
  /**
   * Canary deploys for the function(s) (`PipelineFunction`'s `canary`).
   * @default - deploys reach every invocation at once
   */
  readonly canary?: CanaryDeployments;
}

/**
 * One consumer of the customer events topic: a filtered, raw-delivery subscription
 * into its own queue, a Lambda function draining it with partial batch responses,
 * and two dead-letter queues, so no message is lost on either hop:
 * `deadLetterQueue` (the function failed it three times) and
 * `subscriptionDeadLetterQueue` (SNS could not deliver it to the queue).
 */
export class EventConsumer extends Construct {
  public readonly queue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;
  public readonly subscriptionDeadLetterQueue: sqs.Queue;
  public readonly function: PipelineFunction;
  public readonly eventSource: lambdaEventSources.SqsEventSource;

  constructor(scope: Construct, id: string, props: EventConsumerProps) {
    super(scope, id);
    const hasAttributeFilter = props.filterPolicy !== undefined;
    if (hasAttributeFilter === (props.filterPolicyWithMessageBody !== undefined)) {
      throw new Error(
        `${id}: give exactly one of filterPolicy and filterPolicyWithMessageBody, so the consumer gets only its events`,
      );
    }
    const timeout = props.timeout ?? Duration.seconds(30);
    const fifo = props.fifo ?? false;
    const maxBatchingWindow = fifo ? undefined : (props.maxBatchingWindow ?? Duration.seconds(1));

    this.deadLetterQueue = deadLetterQueue(this, 'DeadLetterQueue', { fifo });
    this.queue = secureQueue(this, 'Queue', {
      visibilityTimeout: consumerVisibilityTimeout(timeout, maxBatchingWindow),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
      ...(fifo ? FIFO_QUEUE_PROPS : {}),
    });
    this.subscriptionDeadLetterQueue = deadLetterQueue(this, 'SubscriptionDeadLetterQueue', {
      fifo,
    });
    Validations.of(this.subscriptionDeadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is the SNS subscription dead-letter queue: the last stop, watched by an alarm.',
    });

    // Also adds the queue policy that lets only this topic send (aws:SourceArn).
    props.topic.addSubscription(
      new subscriptions.SqsSubscription(this.queue, {
        rawMessageDelivery: true,
        filterPolicy: props.filterPolicy,
        filterPolicyWithMessageBody: props.filterPolicyWithMessageBody,
        deadLetterQueue: this.subscriptionDeadLetterQueue,
      }),
    );

    markResource(this.queue, props.handlerDir, 'queue');
    markResource(this.deadLetterQueue, props.handlerDir, 'dead-letter-queue');
    markResource(
      this.subscriptionDeadLetterQueue,
      props.handlerDir,
      'subscription-dead-letter-queue',
    );

    this.function = new PipelineFunction(this, 'Function', {
      handlerDir: props.handlerDir,
      description: props.description,
      memorySize: props.memorySize ?? 256,
      timeout,
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
      canary: props.canary,
      environment: props.environment,
    });
    // CDK grants the function's role what Lambda's pollers use (ReceiveMessage, DeleteMessage,
    // GetQueueAttributes) and also ChangeMessageVisibility and GetQueueUrl, which they do not:
    // the local cloud's IAM report lists those two as granted, never used. They are CDK's
    // grant (`grantConsumeMessages`), kept rather than replaced by a hand-written policy.
    this.eventSource = new lambdaEventSources.SqsEventSource(this.queue, {
      batchSize: props.batchSize ?? 10,
      maxBatchingWindow,
      reportBatchItemFailures: true,
    });
    this.function.addEventSource(this.eventSource);
    Validations.of(this).acknowledge({
      id: 'Serverless-LambdaEventSourceMappingDestination',
      reason:
        'SQS event source mappings cannot have an on-failure destination; failed messages go to the queue redrive dead-letter queue after 3 receives.',
    });
  }
}
