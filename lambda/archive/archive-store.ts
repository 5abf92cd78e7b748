import { HeadObjectCommand, NotFound, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { archiveKey } from '../shared/contract';
import { deletionVersion } from '../shared/domain/deletion';
import type { CustomerEvent } from '../shared/domain/events';
import type { StoredArchive } from './plan';

/** User metadata (`x-amz-meta-deleted`) that marks a tombstone version. */
const DELETED_METADATA = 'deleted';

export const readStoredArchive = async (
  s3: S3Client,
  bucket: string,
  customerId: string,
): Promise<StoredArchive> => {
  const key = archiveKey(customerId);
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    if (head.Metadata?.[DELETED_METADATA] === 'true') return { state: 'deleted' };
    if (head.ETag === undefined) throw new Error(`HeadObject of ${key} returned no ETag`);
    // Only this consumer writes here; an object without a readable version counts as oldest.
    const version = Number(head.Metadata?.version ?? 0);
    return { state: 'present', version: Number.isNaN(version) ? 0 : version, etag: head.ETag };
  } catch (error) {
    if (!(error instanceof NotFound)) throw error;
    // A customer deleted before tombstone versions existed has a delete marker as its
    // current version: S3 answers 404 with `x-amz-delete-marker: true`. No header: the
    // key never held anything (a HEAD, not a LIST, which S3 bills ten times higher).
    return {
      state: error.$response?.headers['x-amz-delete-marker'] === 'true' ? 'deleted' : 'absent',
    };
  }
};

/**
 * Writes `body` as the customer's new version, on condition that the object is still
 * the one read (or still absent): a concurrent write makes S3 answer 412/409 and the
 * record is retried against the new state, so a late event never overwrites a newer one.
 */
const putVersion = async (
  s3: S3Client,
  bucket: string,
  customerId: string,
  body: unknown,
  metadata: Record<string, string>,
  replacing: string | undefined,
): Promise<void> => {
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: archiveKey(customerId),
      Body: JSON.stringify(body),
      ContentType: 'application/json',
      Metadata: metadata,
      ...(replacing === undefined ? { IfNoneMatch: '*' } : { IfMatch: replacing }),
    }),
  );
};

export const writeArchive = (
  s3: S3Client,
  bucket: string,
  event: CustomerEvent,
  replacing: string | undefined,
): Promise<void> =>
  putVersion(
    s3,
    bucket,
    event.customer.id,
    event.customer,
    { version: String(event.version), 'event-id': event.eventId },
    replacing,
  );

/** The last version of a deleted customer's history: who, and from which change. */
export interface ArchiveTombstone {
  readonly customerId: string;
  /** The deletion's place, after every version it removed. */
  readonly version: number;
  /** Unknown for a customer deleted before tombstones (`npm run repair-deleted`). */
  readonly deletedAt?: string;
  readonly eventId: string;
}

export const tombstoneOfEvent = (event: CustomerEvent): ArchiveTombstone => ({
  customerId: event.customer.id,
  version: deletionVersion(event.version),
  deletedAt: event.occurredAt,
  eventId: event.eventId,
});

/**
 * Ends the customer's history with a tombstone version (no personal data), written
 * under the same conditions as any other version. Not a delete marker: S3 treats a
 * current delete marker as absent for `If-None-Match: *`, so a creation that read
 * "absent" just before the deletion could still write over a marker; over a tombstone
 * its conditional write fails, and its retry reads "deleted". Every earlier version
 * stays as the history.
 */
export const writeTombstone = (
  s3: S3Client,
  bucket: string,
  { customerId, version, deletedAt, eventId }: ArchiveTombstone,
  replacing: string | undefined,
): Promise<void> =>
  putVersion(
    s3,
    bucket,
    customerId,
    { id: customerId, deleted: true, deletedAt, version },
    { version: String(version), 'event-id': eventId, [DELETED_METADATA]: 'true' },
    replacing,
  );
