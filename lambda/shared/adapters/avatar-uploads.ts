import { S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { avatarUploadKey } from '../contract';
import type { AvatarContentType } from '../domain/avatar-image';

/** Long enough to pick a file and upload it; short enough that a leaked form soon expires. */
export const AVATAR_UPLOAD_EXPIRES_IN_SECONDS = 900;

/** A browser's form for one upload: POST `fields`, then the file as `file`, to `url`. */
export interface AvatarUpload {
  readonly url: string;
  readonly fields: Readonly<Record<string, string>>;
  /** When the policy expires (ISO 8601); S3 refuses the form after it. */
  readonly expiresAt: string;
  /** The largest file the policy accepts, in bytes. */
  readonly maxBytes: number;
}

/**
 * An S3 client fit for presigning uploads. By default the SDK signs a CRC32 of the
 * (empty) body it presigns, so every real upload would fail its checksum.
 */
export const createPresigningS3Client = (): S3Client =>
  new S3Client({ requestChecksumCalculation: 'WHEN_REQUIRED' });

/** Hands out forms that let a client upload its avatar straight to the bucket, and nothing else. */
export class AvatarUploads {
  constructor(
    private readonly s3: S3Client,
    private readonly bucketName: string,
    private readonly maxBytes: number,
  ) {}

  /**
   * A presigned POST whose policy pins the key (`avatar-uploads/<id>`), the exact content
   * type, and the size (1 byte to `maxBytes`): S3 refuses any other upload with it.
   */
  async presignPost(customerId: string, contentType: AvatarContentType): Promise<AvatarUpload> {
    // The policy's expiry is counted from the signing, a moment after this.
    const expiresAt = new Date(Date.now() + AVATAR_UPLOAD_EXPIRES_IN_SECONDS * 1000);
    const { url, fields } = await createPresignedPost(this.s3, {
      Bucket: this.bucketName,
      Key: avatarUploadKey(customerId),
      Fields: { 'Content-Type': contentType },
      Conditions: [['content-length-range', 1, this.maxBytes]],
      Expires: AVATAR_UPLOAD_EXPIRES_IN_SECONDS,
    });
    return { url, fields, expiresAt: expiresAt.toISOString(), maxBytes: this.maxBytes };
  }
}
