import { RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';

/** What every bucket of the app insists on; spread last, so nothing turns it off. */
export const BUCKET_SAFETY = {
  blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
  encryption: s3.BucketEncryption.S3_MANAGED,
  enforceSSL: true,
  objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
} as const satisfies s3.BucketProps;

/** Kept with the stage's data, or emptied and destroyed with the stack. */
export const bucketLifetime = (retain: boolean) =>
  ({
    removalPolicy: retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    autoDeleteObjects: !retain,
  }) as const satisfies s3.BucketProps;
