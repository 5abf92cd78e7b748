/**
 * Moves the marketing contacts the releases before the contacts bucket kept in the
 * assets bucket, under `marketing/contacts/`, to the contacts bucket (`npm run
 * move-contacts`, `ops/move-contacts.ts`). The archive function may list the assets
 * bucket; until nothing is left under that prefix, it could learn who opted in.
 *
 * The consent record in the table, not the old contact, says who is on the list:
 * - consent granted and the customer exists: the old contact's current version is
 *   copied, unless the contacts bucket holds one already (the marketing function
 *   wrote it since the upgrade, from a newer change);
 * - consent revoked (a deleted customer's tombstone included), no consent record, or
 *   the profile gone: nothing is copied. A grant still in flight writes its own
 *   contact when it is retried; a contact without a record is one whose record failed.
 * Then every version and delete marker of the old key is deleted, whatever was decided.
 *
 * Idempotent: a contact half moved (copied, not yet deleted) is found again by the next
 * run, which sees the copy and deletes the rest.
 */

import {
  GetObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { readConsentState } from '../lambda/marketing/consent-guard';
import { deleteContactForGood } from '../lambda/marketing/contacts';
import { deleteEveryVersion, versionPages } from '../lambda/shared/adapters/s3-versions';
import { contactKey } from '../lambda/shared/contract';
import type { Stores } from './maintenance-command';

/** Where the releases before the contacts bucket kept the contacts, in the assets bucket. */
export const LEGACY_CONTACTS_PREFIX = 'marketing/contacts/';

const LEGACY_KEY = /^marketing\/contacts\/([^/]+)\.json$/;

/** One key under the old prefix, as the survey found it. */
export interface LegacyKey {
  readonly key: string;
  /** The customer the key names; `undefined` for a key the pipeline never wrote. */
  readonly customerId?: string;
  /** Versions and delete markers of the key. */
  readonly entries: number;
  /** The current version, unless a delete marker is current. */
  readonly currentVersionId?: string;
}

/** What becomes of an old contact besides its deletion. */
export type MoveDecision =
  | 'copy'
  | 'already-there'
  | 'revoked'
  | 'no-consent-record'
  | 'customer-deleted'
  | 'no-current-version'
  | 'not-a-contact';

/** The old key and what is (or was) done with it. */
export interface ContactMove extends LegacyKey {
  readonly decision: MoveDecision;
}

/** Every key under the old prefix, with its version count and current version. */
export const findLegacyContacts = async ({ s3, assetsBucket }: Stores): Promise<LegacyKey[]> => {
  const keys = new Map<string, { entries: number; currentVersionId?: string }>();
  for await (const page of versionPages(s3, assetsBucket, LEGACY_CONTACTS_PREFIX)) {
    for (const entry of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) {
      if (entry.Key === undefined) continue;
      const seen = keys.get(entry.Key) ?? { entries: 0 };
      seen.entries += 1;
      keys.set(entry.Key, seen);
    }
    for (const version of page.Versions ?? []) {
      const seen = version.Key === undefined ? undefined : keys.get(version.Key);
      if (seen && version.IsLatest === true) seen.currentVersionId = version.VersionId;
    }
  }
  return [...keys.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, seen]) => ({ key, customerId: LEGACY_KEY.exec(key)?.[1], ...seen }));
};

/** Whether the contacts bucket holds a current contact for the customer. */
const inContactsBucket = async (
  { s3, contactsBucket }: Stores,
  customerId: string,
): Promise<boolean> => {
  const key = contactKey(customerId);
  const page = await s3.send(
    new ListObjectVersionsCommand({ Bucket: contactsBucket, Prefix: key }),
  );
  return (page.Versions ?? []).some((version) => version.Key === key && version.IsLatest === true);
};

/** Whether the consent record grants, for a customer who still exists. */
const stillGranted = async (
  stores: Stores,
  customerId: string,
): Promise<Exclude<MoveDecision, 'copy' | 'already-there' | 'not-a-contact'> | 'granted'> => {
  const { recorded, customerExists } = await readConsentState(
    stores.doc,
    stores.tableName,
    customerId,
  );
  if (!customerExists) return 'customer-deleted';
  if (recorded === undefined) return 'no-consent-record';
  return recorded.consent === 'granted' ? 'granted' : 'revoked';
};

/** What to do with `legacy`, from the table and the contacts bucket as they are now. */
export const decideMove = async (stores: Stores, legacy: LegacyKey): Promise<ContactMove> => {
  const { customerId } = legacy;
  if (customerId === undefined) return { ...legacy, decision: 'not-a-contact' };
  const consent = await stillGranted(stores, customerId);
  if (consent !== 'granted') return { ...legacy, decision: consent };
  if (await inContactsBucket(stores, customerId)) return { ...legacy, decision: 'already-there' };
  if (legacy.currentVersionId === undefined) return { ...legacy, decision: 'no-current-version' };
  return { ...legacy, decision: 'copy' };
};

const isPreconditionFailed = (error: unknown): boolean =>
  error instanceof S3ServiceException && error.$metadata.httpStatusCode === 412;

/**
 * Copies the old contact's current version, unless the contacts bucket has one by
 * then; resolves to what was done in the end.
 */
const copyContact = async (
  stores: Stores,
  { key, customerId, versionId }: { key: string; customerId: string; versionId: string },
): Promise<MoveDecision> => {
  const { s3, assetsBucket, contactsBucket } = stores;
  const current = await s3.send(
    new GetObjectCommand({ Bucket: assetsBucket, Key: key, VersionId: versionId }),
  );
  try {
    await s3.send(
      new PutObjectCommand({
        Bucket: contactsBucket,
        Key: contactKey(customerId),
        Body: await current.Body?.transformToByteArray(),
        ContentType: current.ContentType ?? 'application/json',
        // A contact the marketing function wrote meanwhile is newer: keep it.
        IfNoneMatch: '*',
      }),
    );
  } catch (error) {
    if (isPreconditionFailed(error)) return 'already-there';
    throw error;
  }
  // A revoke recorded since the decision found nothing to delete in the contacts bucket:
  // undo the copy, as a grant the marketing function finds overtaken undoes itself. A
  // revoke recorded after this read deletes the copy itself: it records, then deletes.
  const consent = await stillGranted(stores, customerId);
  if (consent === 'granted') return 'copy';
  await deleteContactForGood(s3, contactsBucket, customerId);
  return consent;
};

/** Carries out `planned`: the copy if any, then the old key's deletion, every version. */
export const applyMove = async (stores: Stores, planned: ContactMove): Promise<ContactMove> => {
  const { key, customerId, currentVersionId } = planned;
  let decision = planned.decision;
  if (decision === 'copy' && customerId !== undefined && currentVersionId !== undefined) {
    decision = await copyContact(stores, { key, customerId, versionId: currentVersionId });
  }
  await deleteEveryVersion(stores.s3, stores.assetsBucket, key, (listed) => listed === key);
  return { ...planned, decision };
};

const NOT_COPIED: Record<Exclude<MoveDecision, 'copy'>, string> = {
  'already-there': 'the contacts bucket has it already',
  revoked: 'consent revoked',
  'no-consent-record': 'no consent record',
  'customer-deleted': 'customer deleted',
  'no-current-version': 'a delete marker is current',
  'not-a-contact': 'not a contact key',
};

/** One line of what `moved` does (or did); ids and counts only, never personal data. */
export const describeMove = (moved: ContactMove): string => {
  const what =
    moved.decision === 'copy'
      ? 'copied to the contacts bucket'
      : `not copied (${NOT_COPIED[moved.decision]})`;
  return `${moved.customerId ?? moved.key}: ${what}; ${moved.entries} old version(s) deleted`;
};
