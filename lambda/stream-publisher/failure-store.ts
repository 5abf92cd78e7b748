import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBRecord } from 'aws-lambda';
import { type InvocationContext, unpublishableObject } from './failure-record';

/** Writes the records the publisher can never publish to the failure bucket, where replay finds them. */
export class FailureStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucketName: string,
  ) {}

  /** Resolves to the object's key; rejects when the bucket did not take it. */
  async putUnpublishable(
    record: DynamoDBRecord,
    reason: string,
    context: InvocationContext,
  ): Promise<string> {
    const { key, body } = unpublishableObject(record, reason, context, new Date());
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucketName,
        Key: key,
        Body: body,
        ContentType: 'application/json',
      }),
    );
    return key;
  }
}
