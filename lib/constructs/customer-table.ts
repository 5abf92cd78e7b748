import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TTL_ATTRIBUTE } from '../../lambda/shared/contract';
import { markResource } from '../resource-names';

export interface CustomerTableProps {
  /**
   * Keep the table when the stack is deleted, and turn on deletion protection.
   * @default false - the table is destroyed with the stack (development stages)
   */
  readonly retainData?: boolean;
}

/**
 * The single table: every item under string keys `pk`/`sk`, no secondary index
 * (every read is a point read), changes streamed with both images to the publisher.
 */
export class CustomerTable extends Construct {
  public readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: CustomerTableProps = {}) {
    super(scope, id);
    const retainData = props.retainData ?? false;

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      timeToLiveAttribute: TTL_ATTRIBUTE,
      deletionProtection: retainData,
      removalPolicy: retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    markResource(this.table, 'customers', 'table');
  }
}
