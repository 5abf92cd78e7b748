import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { avatarKey } from '../contract';

/** Long enough to pick a file and upload it; short enough that a leaked URL soon expires. */
export const AVATAR_UPLOAD_EXPIRES_IN_SECONDS = 900;

export interface AvatarUpload {
  readonly url: string;
  readonly method: 'PUT';
  readonly key: string;
  readonly expiresInSeconds: number;
}

/**
 * An S3 client fit for presigning uploads. By default the SDK signs a CRC32 of the
 * (empty) body it presigns, so every real upload would fail its checksum.
 */
export const createPresigningS3Client = (): S3Client =>
  new S3Client({ requestChecksumCalculation: 'WHEN_REQUIRED' });

/** Hands out URLs that let a client upload its avatar straight to the bucket. */
export class AvatarUploads {
  constructor(
    private readonly s3: S3Client,
    private readonly bucketName: string,
  ) {}

  async presignPut(customerId: string): Promise<AvatarUpload> {
    const key = avatarKey(customerId);
    const url = await getSignedUrl(
      this.s3,
      new PutObjectCommand({ Bucket: this.bucketName, Key: key }),
      { expiresIn: AVATAR_UPLOAD_EXPIRES_IN_SECONDS },
    );
    return { url, method: 'PUT', key, expiresInSeconds: AVATAR_UPLOAD_EXPIRES_IN_SECONDS };
  }
}
