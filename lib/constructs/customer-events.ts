import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { markResource } from '../resource-names';

export interface CustomerEventsProps {
  /**
   * Keep the topic's key when the stack is deleted.
   * @default false - the key is scheduled for deletion with the stack
   */
  readonly retainData?: boolean;
  /**
   * A FIFO topic (a `perCustomer` stage): each customer's events are a message group,
   * deduplicated by their event id, per group (high-throughput FIFO).
   * @default false - a standard topic
   */
  readonly fifo?: boolean;
}

/**
 * The topic every customer event is published to: TLS-only, encrypted with a
 * customer-managed key (rotated yearly) that `grantPublish` shares with publishers.
 */
export class CustomerEvents extends Construct {
  public readonly topic: sns.Topic;
  public readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: CustomerEventsProps = {}) {
    super(scope, id);
    this.key = new kms.Key(this, 'Key', {
      description: 'Encrypts customer events at rest in SNS',
      enableKeyRotation: true,
      pendingWindow: Duration.days(7),
      removalPolicy: props.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'Customer events',
      masterKey: this.key,
      enforceSSL: true,
      ...(props.fifo
        ? {
            fifo: true,
            contentBasedDeduplication: false,
            fifoThroughputScope: sns.FifoThroughputScope.MESSAGE_GROUP,
          }
        : {}),
    });
    markResource(this.topic, 'customer-events', 'topic');
  }
}
