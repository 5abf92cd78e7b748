import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { deleteEveryVersion } from '../shared/adapters/s3-versions';
import { contactKey } from '../shared/contract';
import type { MarketingContact } from './consent';

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
 * Removes the contact for good, every version and delete marker; resolves to how many there
 * were (0: no contact was left).
 */
export const deleteContactForGood = async (
  s3: S3Client,
  bucket: string,
  customerId: string,
): Promise<number> => {
  const key = contactKey(customerId);
  return deleteEveryVersion(s3, bucket, key, (listed) => listed === key);
};
