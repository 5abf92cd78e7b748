import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { AVATAR_UPLOADS_PREFIX, AVATARS_PREFIX } from '../../lambda/shared/contract';
import { markResource } from '../resource-names';
import { BUCKET_SAFETY, bucketLifetime } from './bucket-settings';

export interface AssetsBucketProps {
  /** Days a replaced avatar's previous version is kept. */
  readonly avatarNoncurrentVersionExpirationDays: number;
  /** Origins whose pages may POST to the bucket with a presigned form. */
  readonly corsAllowedOrigins: readonly string[];
  /**
   * Keep both buckets and their objects when the stack is deleted.
   * @default false - both buckets are emptied and destroyed with the stack
   */
  readonly retainData?: boolean;
}

/**
 * The versioned assets bucket: avatars (`AVATARS_PREFIX`) and the customer archive
 * (`ARCHIVE_PREFIX`, `customers/`); both prefixes and their keys are in
 * lambda/shared/contract.ts, which the handlers that write them import too.
 * Versions under `customers/` are each customer's history and never expire; only old
 * avatars do. Server access logs go to a second bucket, which the stack gives the
 * marketing contacts' bucket too. The marketing contacts are not here: the archive
 * may list this bucket.
 */
export class AssetsBucket extends Construct {
  public readonly bucket: s3.Bucket;
  public readonly accessLogsBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: AssetsBucketProps) {
    super(scope, id);
    const lifetime = bucketLifetime(props.retainData ?? false);

    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
      ...BUCKET_SAFETY,
      ...lifetime,
      lifecycleRules: [{ id: 'ExpireAccessLogs', expiration: Duration.days(90) }],
    });

    this.bucket = new s3.Bucket(this, 'Bucket', {
      ...BUCKET_SAFETY,
      ...lifetime,
      versioned: true,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'assets/',
      lifecycleRules: [
        {
          id: 'ExpireReplacedAvatars',
          prefix: AVATARS_PREFIX,
          noncurrentVersionExpiration: Duration.days(props.avatarNoncurrentVersionExpirationDays),
        },
        {
          // What an upload leaves that nothing took: an upload is processed within minutes.
          id: 'ExpireAvatarUploads',
          prefix: AVATAR_UPLOADS_PREFIX,
          expiration: Duration.days(1),
          noncurrentVersionExpiration: Duration.days(1),
        },
        { id: 'AbortIncompleteUploads', abortIncompleteMultipartUploadAfter: Duration.days(7) },
      ],
      cors: [
        {
          // The presigned form's POST (a browser sends its own multipart content type).
          allowedMethods: [s3.HttpMethods.POST],
          allowedOrigins: [...props.corsAllowedOrigins],
          maxAge: 3000,
        },
      ],
    });
    markResource(this.bucket, 'assets', 'bucket');
  }

  private get bucketLogicalId(): string {
    return Stack.of(this).resolve((this.bucket.node.defaultChild as s3.CfnBucket).logicalId);
  }

  /**
   * Lets `fn` call exactly `actions` on the objects under `prefix`, and nothing
   * else: the bucket's broad helpers (`grantRead`, `grantPut`) add wildcards such as
   * `s3:GetObject*` and `s3:Abort*`.
   */
  public grantObjectActions(fn: lambda.IFunction, prefix: string, ...actions: string[]): void {
    this.bucket.grants.actionsOnObjectKeys(fn, `${prefix}*`, ...actions);
    // The object ARN must end in a wildcard: keys are per customer id.
    Validations.of(fn.role ?? fn).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${this.bucketLogicalId}.Arn>/${prefix}*]`,
      reason: `Object actions are limited to the ${prefix} prefix this function owns; each key is a customer id.`,
    });
  }

  /** Lets `fn` list versions and delete markers under `prefixes`, and nothing else of the bucket. */
  public grantListVersions(fn: lambda.IFunction, prefixes: readonly string[]): void {
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucketVersions'],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': prefixes.map((prefix) => `${prefix}*`) } },
      }),
    );
  }
}
