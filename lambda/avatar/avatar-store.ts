import {
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { deleteEveryVersion, versionPages } from '../shared/adapters/s3-versions';
import { avatarKey, avatarPrefixesOf } from '../shared/contract';

/** How long a redirect to an avatar stays usable: long enough for a browser to follow it. */
export const AVATAR_URL_EXPIRES_IN_SECONDS = 300;

/** The start of an upload, and what S3 knows of the whole. */
export interface UploadHead {
  readonly head: Uint8Array;
  /** The Content-Type the upload was stored with: the presigned form pinned it. */
  readonly contentType: string;
  /** The whole object's size in bytes. */
  readonly size: number;
}

interface S3Error {
  readonly name?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

/** The version asked for no longer exists (processed and deleted, or erased with the customer). */
const isGone = (error: unknown): boolean => {
  const { name, $metadata } = (error ?? {}) as S3Error;
  return name === 'NoSuchKey' || name === 'NoSuchVersion' || $metadata?.httpStatusCode === 404;
};

const isDenied = (error: unknown): boolean => {
  const { name, $metadata } = (error ?? {}) as S3Error;
  return name === 'AccessDenied' || $metadata?.httpStatusCode === 403;
};

/** `bytes 0-65535/1234567` → 1234567. */
const totalOf = (contentRange: string | undefined): number | undefined => {
  const total = contentRange?.match(/\/(\d+)$/)?.[1];
  return total === undefined ? undefined : Number(total);
};

/**
 * The avatar objects in the assets bucket: uploads are read and deleted by version, the
 * resized image is written under `avatars/`, and a customer's erase removes every version
 * of every avatar key it ever had.
 */
export class AvatarStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  /**
   * Runs `read` of one version; `undefined` when that version is gone. S3 answers a read of a
   * key that no longer exists with 403, not 404, to a caller without `s3:ListBucket` (which this
   * function does not hold: it would let it list the archive's customers): a 403 is "gone" only
   * if the version is no longer listed, which its `s3:ListBucketVersions` on the prefix allows.
   */
  private async ofVersion<T>(
    key: string,
    versionId: string,
    read: () => Promise<T>,
  ): Promise<T | undefined> {
    try {
      return await read();
    } catch (error) {
      if (isGone(error)) return undefined;
      if (isDenied(error) && !(await this.versionExists(key, versionId))) return undefined;
      throw error;
    }
  }

  private async versionExists(key: string, versionId: string): Promise<boolean> {
    for await (const page of versionPages(this.s3, this.bucket, key)) {
      const entries = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])];
      if (entries.some((e) => e.Key === key && e.VersionId === versionId)) return true;
    }
    return false;
  }

  /** The first `length` bytes of one version of `key`, or `undefined` if that version is gone. */
  readHead(key: string, versionId: string, length: number): Promise<UploadHead | undefined> {
    return this.ofVersion(key, versionId, async () => {
      const object = await this.s3.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          VersionId: versionId,
          Range: `bytes=0-${length - 1}`,
        }),
      );
      const head = await object.Body?.transformToByteArray();
      if (head === undefined) throw new Error(`S3 returned no body for ${key}`);
      return {
        head,
        contentType: object.ContentType ?? '',
        size: totalOf(object.ContentRange) ?? object.ContentLength ?? head.length,
      };
    });
  }

  /** The whole of one version of `key`, or `undefined` if that version is gone. */
  readWhole(key: string, versionId: string): Promise<Uint8Array | undefined> {
    return this.ofVersion(key, versionId, async () => {
      const object = await this.s3.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, VersionId: versionId }),
      );
      const bytes = await object.Body?.transformToByteArray();
      if (bytes === undefined) throw new Error(`S3 returned no body for ${key}`);
      return bytes;
    });
  }

  /** Writes the customer's resized avatar and returns its key and the version it created. */
  async publish(
    customerId: string,
    image: { readonly bytes: Uint8Array; readonly contentType: string },
  ): Promise<{ readonly key: string; readonly versionId: string }> {
    const key = avatarKey(customerId);
    const { VersionId } = await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: image.bytes,
        ContentType: image.contentType,
      }),
    );
    if (VersionId === undefined)
      throw new Error(`no version id for ${key}: is the bucket versioned?`);
    return { key, versionId: VersionId };
  }

  /** Removes one version for good; one already gone is no error (S3 answers 204 either way). */
  async deleteVersion(key: string, versionId: string): Promise<void> {
    await this.s3.send(
      new DeleteObjectCommand({ Bucket: this.bucket, Key: key, VersionId: versionId }),
    );
  }

  /** Every version and delete marker of the customer's avatar keys, for good; how many went. */
  async erase(customerId: string): Promise<number> {
    let deleted = 0;
    for (const prefix of avatarPrefixesOf(customerId)) {
      deleted += await deleteEveryVersion(this.s3, this.bucket, prefix);
    }
    return deleted;
  }

  /** A short-lived GET of one version: what is served cannot change under the link. */
  presignGet(key: string, versionId: string): Promise<string> {
    return getSignedUrl(
      this.s3,
      new GetObjectCommand({ Bucket: this.bucket, Key: key, VersionId: versionId }),
      { expiresIn: AVATAR_URL_EXPIRES_IN_SECONDS },
    );
  }
}
