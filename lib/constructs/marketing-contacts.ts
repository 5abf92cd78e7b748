import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { CONTACTS_PREFIX } from '../../lambda/shared/contract';
import { markResource } from '../resource-names';
import { BUCKET_SAFETY, bucketLifetime } from './bucket-settings';

export interface MarketingContactsProps {
  /** The bucket S3 writes this bucket's server access logs to. */
  readonly accessLogsBucket: s3.IBucket;
  /**
   * Keep the bucket and its objects when the stack is deleted.
   * @default false - the bucket is emptied and destroyed with the stack
   */
  readonly retainData?: boolean;
}

/**
 * The marketing contact list: `contacts/<customer id>.json` for each customer who opted
 * in. A bucket of its own, so that a function allowed to list another bucket (the
 * archive needs ListBucket on the assets bucket) never learns who opted in. The
 * contacts are derived from the consent records in the table and can be rebuilt, so
 * nothing here is history: a replaced version is forgotten after a day.
 */
export class MarketingContacts extends Construct {
  public readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: MarketingContactsProps) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      ...bucketLifetime(props.retainData ?? false),
      // The marketing function undoes exactly its own write by VersionId; a revoke
      // deletes every version, so the list never keeps a contact behind a marker.
      versioned: true,
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: 'marketing-contacts/',
      lifecycleRules: [
        {
          // A replaced version holds a name or an address the customer has changed:
          // nothing reads it, so it goes as soon as S3 allows. A delete marker left
          // alone (a delete by hand, without a VersionId) goes too, so such a delete
          // also ends with nothing kept.
          id: 'ForgetReplacedContacts',
          noncurrentVersionExpiration: Duration.days(1),
          expiredObjectDeleteMarker: true,
        },
      ],
      ...BUCKET_SAFETY,
    });
    markResource(this.bucket, 'marketing-contacts', 'bucket');
  }

  private get bucketLogicalId(): string {
    return Stack.of(this).resolve((this.bucket.node.defaultChild as s3.CfnBucket).logicalId);
  }

  /** Lets `fn` call exactly `actions` on the contacts, and nothing else. */
  public grantContactActions(fn: lambda.IFunction, ...actions: string[]): void {
    this.bucket.grants.actionsOnObjectKeys(fn, `${CONTACTS_PREFIX}*`, ...actions);
    // The object ARN must end in a wildcard: keys are per customer id.
    Validations.of(fn.role ?? fn).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${this.bucketLogicalId}.Arn>/${CONTACTS_PREFIX}*]`,
      reason: `Contact actions are limited to the ${CONTACTS_PREFIX} prefix of the contacts bucket; each key is a customer id.`,
    });
  }

  /** Lets `grantee` list the versions of contacts, and nothing else of the bucket. */
  public grantListContactVersions(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucketVersions'],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': `${CONTACTS_PREFIX}*` } },
      }),
    );
  }
}
