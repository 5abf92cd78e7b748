/**
 * Finds what deleted customers left behind before tombstones existed, and gives it
 * the treatment a deletion gives today (`npm run repair-deleted`, `ops/repair-deleted.ts`).
 * Run by an operator with their own credentials, never by a function: it Scans.
 *
 * A customer is deleted when its profile is gone (ids are never reused). What it may
 * have left, and what becomes of it:
 * - its consent record, written after the deletion by a late event, or none at all:
 *   it becomes a tombstone (revoked, above the version it held, marked deleted, with
 *   an expiry);
 * - other items of its partition without an expiry (a SENT welcome claim): they get one;
 * - an email claim naming it: deleted, or the address would stay taken;
 * - versions of its marketing contact: deleted, every one;
 * - an archive whose current version is not a tombstone: a tombstone version on top.
 */

import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import {
  paginatedBatchGet,
  paginateScan,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { readStoredArchive, writeTombstone } from '../lambda/archive/archive-store';
import { deleteContactForGood } from '../lambda/marketing/contacts';
import { versionPages } from '../lambda/shared/adapters/s3-versions';
import { archiveKey, contactKey, TTL_ATTRIBUTE } from '../lambda/shared/contract';
import { deletedCustomerExpiry, deletionVersion } from '../lambda/shared/domain/deletion';
import {
  CUSTOMER_PK_PREFIX,
  type ItemKey,
  marketingConsentKey,
  PROFILE_SK,
  profileKey,
} from '../lambda/shared/domain/keys';
import type { Stores } from './maintenance-command';

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** What the scan reads of an item: its keys and what the repair decides on. */
const scannedItem = z.object({
  pk: z.string(),
  sk: z.string(),
  customerId: z.string().optional(),
  [TTL_ATTRIBUTE]: z.number().optional(),
  consent: z.string().optional(),
  version: z.number().optional(),
  deleted: z.boolean().optional(),
});
type ScannedItem = z.infer<typeof scannedItem>;

/** What one deleted customer left, and what the repair does with it. */
export interface DeletedCustomerRepair {
  readonly customerId: string;
  /** The consent record becomes a tombstone at this version (it was `was`, or absent). */
  readonly tombstone?: { readonly version: number; readonly was?: ScannedItem };
  /** Items of its partition that get an expiry. */
  readonly expire: readonly ItemKey[];
  /** Email claims naming it, deleted. */
  readonly claims: readonly ItemKey[];
  /** Versions and delete markers of its marketing contact, deleted. */
  readonly contactVersions: number;
  /** Its archive's current version, which a tombstone version goes on top of. */
  readonly archive?: { readonly etag: string; readonly version: number };
}

const EMAIL_PK_PREFIX = 'EMAIL#';

/** What comes before and after the customer id in the keys `keyOf` makes. */
const keyParts = (keyOf: (id: string) => string): readonly [string, string] => {
  const [before = '', after = ''] = keyOf('\0').split('\0');
  return [before, after];
};

/** The customer whose object `key` is, when `keyOf` names it that way. */
const idOfKey = (key: string | undefined, keyOf: (id: string) => string): string | undefined => {
  const [before, after] = keyParts(keyOf);
  return key?.startsWith(before) && key.endsWith(after)
    ? key.slice(before.length, key.length - after.length)
    : undefined;
};

interface TableSurvey {
  readonly live: Set<string>;
  /** Every item but the profile, by customer. */
  readonly partitions: Map<string, ScannedItem[]>;
  /** Email claims, by the customer they name. */
  readonly claims: Map<string, ItemKey[]>;
}

const push = <T>(map: Map<string, T[]>, key: string, value: T): void => {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
};

const surveyTable = async ({ doc, tableName }: Stores): Promise<TableSurvey> => {
  const survey: TableSurvey = { live: new Set(), partitions: new Map(), claims: new Map() };
  const pages = paginateScan(
    { client: doc },
    {
      TableName: tableName,
      ProjectionExpression: `pk, sk, customerId, ${TTL_ATTRIBUTE}, consent, version, deleted`,
      ConsistentRead: true,
    },
  );
  for await (const page of pages) {
    for (const raw of page.Items ?? []) {
      const item = scannedItem.parse(raw);
      if (item.pk.startsWith(CUSTOMER_PK_PREFIX)) {
        const id = item.pk.slice(CUSTOMER_PK_PREFIX.length);
        if (item.sk === PROFILE_SK) survey.live.add(id);
        else push(survey.partitions, id, item);
      } else if (item.pk.startsWith(EMAIL_PK_PREFIX) && item.customerId) {
        push(survey.claims, item.customerId, { pk: item.pk, sk: item.sk });
      }
    }
  }
  return survey;
};

/** Versions and delete markers under the contacts prefix, by customer. */
const surveyContacts = async ({ s3, contactsBucket }: Stores): Promise<Map<string, number>> => {
  const counts = new Map<string, number>();
  for await (const page of versionPages(s3, contactsBucket, keyParts(contactKey)[0])) {
    for (const entry of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) {
      const id = idOfKey(entry.Key, contactKey);
      if (id) counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  }
  return counts;
};

/** Customers whose archive has a current object (a delete marker hides the others). */
const surveyArchive = async ({ s3, assetsBucket }: Stores): Promise<Set<string>> => {
  const ids = new Set<string>();
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: assetsBucket,
        Prefix: keyParts(archiveKey)[0],
        ContinuationToken: token,
      }),
    );
    for (const object of page.Contents ?? []) {
      const id = idOfKey(object.Key, archiveKey);
      if (id) ids.add(id);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return ids;
};

/** Of `ids`, the ones whose profile exists now: the scan is no snapshot. */
const existing = async (
  { doc, tableName }: Stores,
  ids: readonly string[],
): Promise<Set<string>> => {
  const found = new Set<string>();
  for (let start = 0; start < ids.length; start += 100) {
    const keys = ids.slice(start, start + 100).map(profileKey);
    const pages = paginatedBatchGet(
      { client: doc },
      {
        RequestItems: {
          [tableName]: { Keys: keys, ProjectionExpression: 'pk', ConsistentRead: true },
        },
      },
    );
    for await (const page of pages) {
      for (const item of page.Responses?.[tableName] ?? []) {
        found.add(String(item.pk).slice(CUSTOMER_PK_PREFIX.length));
      }
    }
  }
  return found;
};

const isTombstone = (item: ScannedItem | undefined): boolean =>
  item?.deleted === true && item.expiresAt !== undefined;

/** Every deleted customer that left something untreated, and what the repair would do. */
export const findDeletedCustomers = async (stores: Stores): Promise<DeletedCustomerRepair[]> => {
  const [table, contacts, archived] = await Promise.all([
    surveyTable(stores),
    surveyContacts(stores),
    surveyArchive(stores),
  ]);
  const candidates = [
    ...new Set([
      ...table.partitions.keys(),
      ...table.claims.keys(),
      ...contacts.keys(),
      ...archived,
    ]),
  ].filter((id) => !table.live.has(id));
  const alive = await existing(stores, candidates);

  const repairs: DeletedCustomerRepair[] = [];
  for (const customerId of candidates.filter((id) => !alive.has(id)).sort()) {
    const items = table.partitions.get(customerId) ?? [];
    const record = items.find((item) => item.sk === marketingConsentKey(customerId).sk);
    const expire = items
      .filter((item) => item !== record && item.expiresAt === undefined)
      .map(({ pk, sk }) => ({ pk, sk }));
    const claims = table.claims.get(customerId) ?? [];
    const tableNeedsRepair =
      expire.length > 0 || claims.length > 0 || (items.length > 0 && !isTombstone(record));
    let archive: DeletedCustomerRepair['archive'];
    if (archived.has(customerId)) {
      const stored = await readStoredArchive(stores.s3, stores.assetsBucket, customerId);
      if (stored.state === 'present') archive = { etag: stored.etag, version: stored.version };
    }
    const contactVersions = contacts.get(customerId) ?? 0;
    if (!tableNeedsRepair && contactVersions === 0 && archive === undefined) continue;
    repairs.push({
      customerId,
      ...(tableNeedsRepair && {
        tombstone: isTombstone(record)
          ? undefined
          : { version: deletionVersion(record?.version ?? 0), was: record },
      }),
      expire,
      claims,
      contactVersions,
      ...(archive && { archive }),
    });
  }
  return repairs;
};

/** The table's part of a repair: all or nothing, and only while the profile is still absent. */
const tableItems = (
  { tableName }: Stores,
  repair: DeletedCustomerRepair,
  now: Date,
): TransactItem[] => {
  const { customerId, tombstone } = repair;
  const expiresAt = deletedCustomerExpiry(now);
  const items: TransactItem[] = [];
  if (tombstone) {
    items.push({
      Put: {
        TableName: tableName,
        Item: {
          ...marketingConsentKey(customerId),
          consent: 'revoked',
          version: tombstone.version,
          deleted: true,
          repairedAt: now.toISOString(),
          expiresAt,
        },
        // Unchanged since the scan: a consumer's late write makes the run report it.
        ...(tombstone.was?.version === undefined
          ? { ConditionExpression: 'attribute_not_exists(pk)' }
          : {
              ConditionExpression: 'version = :seen',
              ExpressionAttributeValues: { ':seen': tombstone.was.version },
            }),
      },
    });
  }
  for (const key of repair.expire) {
    items.push({
      Update: {
        TableName: tableName,
        Key: key,
        UpdateExpression: 'SET #ttl = :expiresAt',
        ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#ttl)',
        ExpressionAttributeNames: { '#ttl': TTL_ATTRIBUTE },
        ExpressionAttributeValues: { ':expiresAt': expiresAt },
      },
    });
  }
  for (const key of repair.claims) {
    items.push({
      Delete: {
        TableName: tableName,
        Key: key,
        ConditionExpression: 'customerId = :id',
        ExpressionAttributeValues: { ':id': customerId },
      },
    });
  }
  if (items.length === 0) return [];
  return [
    {
      ConditionCheck: {
        TableName: tableName,
        Key: profileKey(customerId),
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    },
    ...items,
  ];
};

/** Carries out `repair`; a change since the survey fails it, to be found again by the next run. */
export const applyRepair = async (
  stores: Stores,
  repair: DeletedCustomerRepair,
  now: Date,
): Promise<void> => {
  const items = tableItems(stores, repair, now);
  if (items.length > 0) {
    await stores.doc.send(new TransactWriteCommand({ TransactItems: items }));
  }
  if (repair.contactVersions > 0) {
    await deleteContactForGood(stores.s3, stores.contactsBucket, repair.customerId);
  }
  if (repair.archive) {
    await writeTombstone(
      stores.s3,
      stores.assetsBucket,
      {
        customerId: repair.customerId,
        version: deletionVersion(repair.archive.version),
        eventId: 'repair-deleted',
      },
      repair.archive.etag,
    );
  }
};

/** One line of what `repair` does (or would do); ids and counts only, never personal data. */
export const describeRepair = (repair: DeletedCustomerRepair): string => {
  const parts: string[] = [];
  const { tombstone } = repair;
  if (tombstone) {
    const was = tombstone.was
      ? `was ${tombstone.was.consent ?? '?'} at version ${tombstone.was.version ?? '?'}`
      : 'had none';
    parts.push(`tombstone at version ${tombstone.version} (${was})`);
  }
  if (repair.expire.length > 0) {
    parts.push(`expiry on ${repair.expire.map((key) => key.sk).join(', ')}`);
  }
  if (repair.claims.length > 0) parts.push(`${repair.claims.length} email claim(s) deleted`);
  if (repair.contactVersions > 0) {
    parts.push(`marketing contact deleted (${repair.contactVersions} version(s))`);
  }
  if (repair.archive) parts.push(`archive tombstone over version ${repair.archive.version}`);
  return `${repair.customerId}: ${parts.join('; ')}`;
};
