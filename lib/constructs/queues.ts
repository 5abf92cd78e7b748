import { Duration, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/** SQS keeps a message at most 14 days; a dead-letter queue keeps it that long for a human. */
export const DEAD_LETTER_RETENTION = Duration.days(14);

/**
 * A FIFO queue's settings in a `perCustomer` stage: deduplication and throughput per message
 * group (high-throughput FIFO), so one busy customer does not hold back the rest. The
 * deduplication id comes from SNS (the event's id), never from the body.
 */
export const FIFO_QUEUE_PROPS = {
  fifo: true,
  contentBasedDeduplication: false,
  deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
  fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
} as const satisfies sqs.QueueProps;

/**
 * A queue with the settings every queue of the pipeline must have: encrypted with
 * SSE-SQS (SNS cannot deliver to a queue under the AWS-managed `alias/aws/sqs` KMS
 * key) and refusing any request that is not TLS. The caller's props cannot turn
 * either off.
 */
export const secureQueue = (scope: Construct, id: string, props: sqs.QueueProps = {}): sqs.Queue =>
  new sqs.Queue(scope, id, {
    ...props,
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
  });

/**
 * A queue that holds what the pipeline gave up on, for 14 days, for a human (the
 * README's DLQ runbook) and an alarm. It has no dead-letter queue of its own.
 */
export const deadLetterQueue = (
  scope: Construct,
  id: string,
  { fifo = false }: { readonly fifo?: boolean } = {},
): sqs.Queue => {
  const queue = secureQueue(scope, id, {
    retentionPeriod: DEAD_LETTER_RETENTION,
    // A FIFO queue's dead-letter queue must be FIFO too, and keeps each group's order.
    ...(fifo ? FIFO_QUEUE_PROPS : {}),
  });
  Validations.of(queue).acknowledge({
    id: 'Serverless-SQSRedrivePolicy',
    reason: 'A dead-letter queue is the last stop: its messages wait for an operator, alarmed on.',
  });
  return queue;
};
