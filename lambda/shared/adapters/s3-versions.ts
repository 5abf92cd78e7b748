import {
  DeleteObjectsCommand,
  ListObjectVersionsCommand,
  type ListObjectVersionsCommandOutput,
  type ObjectIdentifier,
  type S3Client,
} from '@aws-sdk/client-s3';

/** S3's limit of keys per DeleteObjects request. */
const DELETE_BATCH = 1000;

/**
 * Every page of a bucket's versions and delete markers under `prefix`. The SDK has no
 * paginator for ListObjectVersions: it pages by two markers, the key and the version.
 */
export async function* versionPages(
  s3: S3Client,
  bucket: string,
  prefix: string,
): AsyncGenerator<ListObjectVersionsCommandOutput> {
  let markers: { KeyMarker?: string; VersionIdMarker?: string } = {};
  for (;;) {
    const page = await s3.send(
      new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix, ...markers }),
    );
    yield page;
    if (page.IsTruncated !== true) return;
    markers = { KeyMarker: page.NextKeyMarker, VersionIdMarker: page.NextVersionIdMarker };
  }
}

/**
 * Removes for good every version and delete marker under `prefix` whose key `keys` accepts,
 * each by VersionId (a plain delete would only hide an object behind a marker). Listed in
 * full before deleting, so deletions never shift the pages being read. Returns how many it
 * deleted; deleting what is already gone succeeds, so a repeat is harmless.
 */
export const deleteEveryVersion = async (
  s3: S3Client,
  bucket: string,
  prefix: string,
  keys: (key: string) => boolean = () => true,
): Promise<number> => {
  const doomed: ObjectIdentifier[] = [];
  for await (const page of versionPages(s3, bucket, prefix)) {
    for (const entry of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) {
      if (entry.Key !== undefined && keys(entry.Key) && entry.VersionId !== undefined) {
        doomed.push({ Key: entry.Key, VersionId: entry.VersionId });
      }
    }
  }
  for (let start = 0; start < doomed.length; start += DELETE_BATCH) {
    const { Errors = [] } = await s3.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: { Objects: doomed.slice(start, start + DELETE_BATCH), Quiet: true },
      }),
    );
    if (Errors.length > 0) {
      throw new Error(
        `could not delete ${Errors.length} version(s) under ${prefix}: ${Errors[0]?.Code}`,
      );
    }
  }
  return doomed.length;
};
