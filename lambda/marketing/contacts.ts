import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  type ObjectIdentifier,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { versionPages } from '../shared/adapters/s3-versions';
import { contactKey } from '../shared/contract';
import type { MarketingContact } from './consent';

/** S3's limit of keys per DeleteObjects request. */
const DELETE_BATCH = 1000;

/** Writes the contact and returns the version it created, so that write alone can be undone. */
export const putContact = async (
  s3: S3Client,
  bucket: string,
  contact: MarketingContact,
): Promise<string> => {
  const key = contactKey(contact.customerId);
  const { VersionId } = await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: JSON.stringify(contact),
      ContentType: 'application/json',
    }),
  );
  if (VersionId === undefined)
    throw new Error(`no version id for ${key}: is the bucket versioned?`);
  return VersionId;
};

export const deleteContactVersion = async (
  s3: S3Client,
  bucket: string,
  customerId: string,
  versionId: string,
): Promise<void> => {
  await s3.send(
    new DeleteObjectCommand({ Bucket: bucket, Key: contactKey(customerId), VersionId: versionId }),
  );
};

/**
 * Removes `key` for good: every version and delete marker, each by VersionId (a plain
 * delete would only hide it behind a marker).
 */
export const deleteEveryVersion = async (
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<void> => {
  const doomed: ObjectIdentifier[] = [];
  for await (const page of versionPages(s3, bucket, key)) {
    for (const entry of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) {
      if (entry.Key === key && entry.VersionId !== undefined) {
        doomed.push({ Key: key, VersionId: entry.VersionId });
      }
    }
  }
  // Listed in full before deleting, so deletions never shift the pages being read.
  for (let start = 0; start < doomed.length; start += DELETE_BATCH) {
    const { Errors = [] } = await s3.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: { Objects: doomed.slice(start, start + DELETE_BATCH), Quiet: true },
      }),
    );
    if (Errors.length > 0) {
      throw new Error(`could not delete ${Errors.length} version(s) of ${key}: ${Errors[0]?.Code}`);
    }
  }
};

/** Removes the contact for good, every version and delete marker. */
export const deleteContactForGood = (
  s3: S3Client,
  bucket: string,
  customerId: string,
): Promise<void> => deleteEveryVersion(s3, bucket, contactKey(customerId));
