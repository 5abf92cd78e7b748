import {
  DeleteObjectCommand,
  HeadObjectCommand,
  NotFound,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { CustomerEvent } from '../shared/domain/events';
import { archiveKey, type StoredArchive } from './plan';

export const readStoredArchive = async (
  s3: S3Client,
  bucket: string,
  customerId: string,
): Promise<StoredArchive> => {
  const key = archiveKey(customerId);
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    if (head.ETag === undefined) throw new Error(`HeadObject of ${key} returned no ETag`);
    // Only this consumer writes here; an object without a readable version counts as oldest.
    const version = Number(head.Metadata?.version ?? 0);
    return { state: 'present', version: Number.isNaN(version) ? 0 : version, etag: head.ETag };
  } catch (error) {
    if (!(error instanceof NotFound)) throw error;
    // S3 answers a key whose current version is a delete marker with 404 and
    // `x-amz-delete-marker: true`: the customer was deleted, and a late event must not
    // bring it back. No header: the key never held anything (a HEAD, not a LIST, which
    // S3 bills ten times higher).
    return {
      state: error.$response?.headers['x-amz-delete-marker'] === 'true' ? 'deleted' : 'absent',
    };
  }
};

/**
 * Writes the customer's new version, on condition that the object is still the one
 * read (or still absent): a concurrent write makes S3 answer 412/409 and the record
 * is retried against the new state, so a late event never overwrites a newer one.
 * Not caught: a deletion landing between the HEAD and an `IfNoneMatch` write (S3
 * treats a current delete marker as absent); it takes a creation and a deletion of
 * the same customer in flight at the same moment.
 */
export const writeArchive = async (
  s3: S3Client,
  bucket: string,
  event: CustomerEvent,
  replacing: string | undefined,
): Promise<void> => {
  const { customer } = event;
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: archiveKey(customer.id),
      Body: JSON.stringify(customer),
      ContentType: 'application/json',
      Metadata: { version: String(event.version), 'event-id': event.eventId },
      ...(replacing === undefined ? { IfNoneMatch: '*' } : { IfMatch: replacing }),
    }),
  );
};

/** No VersionId: S3 adds a delete marker and keeps every version as the history. */
export const deleteArchive = async (
  s3: S3Client,
  bucket: string,
  customerId: string,
): Promise<void> => {
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: archiveKey(customerId) }));
};
