import { type Action, byKey, type CallKey, type CallRange, keyOf, type Range } from './calls';

export interface FloorEntry extends CallKey {
  readonly action: Action;
  /** Calls per customer when it is alone in every batch. */
  readonly floor: number;
  readonly why: string;
}

export interface FloorComparison extends CallKey {
  readonly action: Action;
  readonly measured: Range;
  readonly floor: number;
  /** Why the design needs the call (empty when the design does not). */
  readonly why: string;
  /** The most measured in a cycle exceeds the floor. */
  readonly over: boolean;
  /** Why it was above the floor, when it was. */
  readonly reason?: string;
}

// The fewest calls the design allows, from the handlers and the issue.

const PUBLISH =
  'one PublishBatch per invocation of up to 10 records: 1 for a customer alone, 0.1 amortised at full batches';

/**
 * For a customer created opted in, then given an avatar (a 1200 × 900 JPEG of ~300 KB through
 * the presigned form), then renamed and opted out (one PUT), then deleted. Only the functions'
 * calls: the pollers' (SQS receive/delete, stream reads) are apart, and so is S3's notification
 * of the upload to its queue.
 */
export const FLOOR: readonly FloorEntry[] = [
  {
    action: 'create',
    fn: 'api',
    service: 'dynamodb',
    operation: 'TransactWriteItems',
    floor: 1,
    why: 'profile and email claim in one transaction: an email belongs to one customer',
  },
  {
    action: 'create',
    fn: 'stream-publisher',
    service: 'sns',
    operation: 'PublishBatch',
    floor: 1,
    why: PUBLISH,
  },
  {
    action: 'create',
    fn: 'welcome',
    service: 'secretsmanager',
    operation: 'GetSecretValue',
    floor: 0,
    why: 'once per execution environment and 5 minutes (cached): ≈0 per customer',
  },
  {
    action: 'create',
    fn: 'welcome',
    service: 'dynamodb',
    operation: 'TransactWriteItems',
    floor: 1,
    why: 'claim the welcome only while the customer exists (condition check + put)',
  },
  {
    action: 'create',
    fn: 'welcome',
    service: 'dynamodb',
    operation: 'UpdateItem',
    floor: 1,
    why: 'mark the claim SENT so a redelivery sends nothing',
  },
  {
    action: 'create',
    fn: 'archive',
    service: 's3',
    operation: 'HeadObject',
    floor: 1,
    why: 'the stored version, so an older event never overwrites a newer one, and a tombstone (deleted: never re-created)',
  },
  {
    action: 'create',
    fn: 'archive',
    service: 's3',
    operation: 'PutObject',
    floor: 1,
    why: 'the first version, conditional (If-None-Match)',
  },
  {
    action: 'create',
    fn: 'marketing',
    service: 'dynamodb',
    operation: 'BatchGetItem',
    floor: 1,
    why: 'the consent record and the profile in one read: a newer change wins, a deleted customer gets no contact',
  },
  {
    action: 'create',
    fn: 'marketing',
    service: 's3',
    operation: 'PutObject',
    floor: 1,
    why: 'the contact',
  },
  {
    action: 'create',
    fn: 'marketing',
    service: 'dynamodb',
    operation: 'PutItem',
    floor: 1,
    why: 'record the grant, conditional on nothing newer',
  },
  {
    action: 'avatar',
    fn: 'avatar-upload',
    service: 'dynamodb',
    operation: 'GetItem',
    floor: 1,
    why: 'the customer exists before a form is signed (signing the form makes no call)',
  },
  {
    action: 'avatar',
    fn: 'avatar-upload',
    service: 's3',
    operation: 'PostObject',
    floor: 1,
    why: "the client's upload through the presigned form: S3 checks it against the role that signed it, so it counts as the signer's (a PUT-class request)",
  },
  {
    action: 'avatar',
    fn: 'avatar',
    service: 'dynamodb',
    operation: 'GetItem',
    floor: 1,
    why: 'consistent read of the profile: the customer exists and no later upload is recorded',
  },
  {
    action: 'avatar',
    fn: 'avatar',
    service: 's3',
    operation: 'GetObject',
    floor: 2,
    why: 'the first 64 KiB, to judge the header before decoding anything, then the whole upload, which is larger (one read for an upload of at most 64 KiB)',
  },
  {
    action: 'avatar',
    fn: 'avatar',
    service: 's3',
    operation: 'PutObject',
    floor: 1,
    why: 'the 256 px JPEG under avatars/',
  },
  {
    action: 'avatar',
    fn: 'avatar',
    service: 'dynamodb',
    operation: 'UpdateItem',
    floor: 1,
    why: 'record the avatar while the customer exists and no later upload is recorded; the new version makes it a CustomerUpdated',
  },
  {
    action: 'avatar',
    fn: 'avatar',
    service: 's3',
    operation: 'DeleteObject',
    floor: 1,
    why: 'the upload, by its version, once dealt with',
  },
  {
    action: 'avatar',
    fn: 'stream-publisher',
    service: 'sns',
    operation: 'PublishBatch',
    floor: 1,
    why: PUBLISH,
  },
  {
    action: 'avatar',
    fn: 'archive',
    service: 's3',
    operation: 'HeadObject',
    floor: 1,
    why: 'the stored version and ETag',
  },
  {
    action: 'avatar',
    fn: 'archive',
    service: 's3',
    operation: 'PutObject',
    floor: 1,
    why: 'the version with the avatar, conditional (If-Match)',
  },
  {
    action: 'avatar',
    fn: 'marketing',
    service: 'dynamodb',
    operation: 'BatchGetItem',
    floor: 1,
    why: 'an update of a customer opted in carries the grant again: the consent record and the profile in one read',
  },
  {
    action: 'avatar',
    fn: 'marketing',
    service: 's3',
    operation: 'PutObject',
    floor: 1,
    why: 'the contact rewritten at the new version (as for any change of an opted-in customer)',
  },
  {
    action: 'avatar',
    fn: 'marketing',
    service: 'dynamodb',
    operation: 'PutItem',
    floor: 1,
    why: 'record the grant at the new version, conditional on nothing newer',
  },
  {
    action: 'update',
    fn: 'api',
    service: 'dynamodb',
    operation: 'GetItem',
    floor: 1,
    why: 'consistent read: If-Match, and the stored customer the PUT replaces',
  },
  {
    action: 'update',
    fn: 'api',
    service: 'dynamodb',
    operation: 'TransactWriteItems',
    floor: 1,
    why: 'conditional write of the new version (email unchanged: one item)',
  },
  {
    action: 'update',
    fn: 'stream-publisher',
    service: 'sns',
    operation: 'PublishBatch',
    floor: 1,
    why: PUBLISH,
  },
  {
    action: 'update',
    fn: 'archive',
    service: 's3',
    operation: 'HeadObject',
    floor: 1,
    why: 'the stored version and ETag',
  },
  {
    action: 'update',
    fn: 'archive',
    service: 's3',
    operation: 'PutObject',
    floor: 1,
    why: 'the new version, conditional (If-Match)',
  },
  {
    action: 'update',
    fn: 'marketing',
    service: 'dynamodb',
    operation: 'TransactWriteItems',
    floor: 1,
    why: 'record the revoke first, so a late grant undoes itself; only while the profile exists (condition check)',
  },
  {
    action: 'update',
    fn: 'marketing',
    service: 's3',
    operation: 'ListObjectVersions',
    floor: 1,
    why: 'every version of the contact, to delete it for good',
  },
  {
    action: 'update',
    fn: 'marketing',
    service: 's3',
    operation: 'DeleteObjects',
    floor: 1,
    why: 'delete those versions in one request',
  },
  {
    action: 'delete',
    fn: 'api',
    service: 'dynamodb',
    operation: 'GetItem',
    floor: 1,
    why: 'consistent read: If-Match, and the email whose claim goes too',
  },
  {
    action: 'delete',
    fn: 'api',
    service: 'dynamodb',
    operation: 'TransactWriteItems',
    floor: 1,
    why: 'profile, email and welcome claims deleted by key, the consent record turned into the tombstone, all or nothing',
  },
  {
    action: 'delete',
    fn: 'stream-publisher',
    service: 'sns',
    operation: 'PublishBatch',
    floor: 1,
    why: PUBLISH,
  },
  {
    action: 'delete',
    fn: 'archive',
    service: 's3',
    operation: 'HeadObject',
    floor: 1,
    why: 'the stored version: a deletion applies on top of it',
  },
  {
    action: 'delete',
    fn: 'archive',
    service: 's3',
    operation: 'PutObject',
    floor: 1,
    why: 'the tombstone version, conditional (If-Match); every version stays as the history',
  },
  {
    action: 'delete',
    fn: 'avatar',
    service: 's3',
    operation: 'ListObjectVersions',
    floor: 2,
    why: "every version under each of the customer's avatar prefixes: its uploads, and avatars/<id> (the published key and the legacy one)",
  },
  {
    action: 'delete',
    fn: 'avatar',
    service: 's3',
    operation: 'DeleteObjects',
    floor: 1,
    why: 'those versions in one request (a customer who never uploaded has none: no call)',
  },
];

/** Known reasons for a call above the floor. */
const OVER_FLOOR_REASONS: Readonly<Record<string, string>> = {
  'welcome secretsmanager GetSecretValue':
    "the welcome function's cold start (the first cycle): the secret is read once and cached for 5 minutes",
};

/** Every measured and every floor operation of `action`, side by side. */
export const compareWithFloor = (
  action: Action,
  measured: readonly CallRange[],
  floor: readonly FloorEntry[] = FLOOR,
): FloorComparison[] => {
  const ofAction = floor.filter((f) => f.action === action);
  const keys = new Map<string, CallKey>();
  for (const k of [...ofAction, ...measured]) {
    keys.set(keyOf(k), { fn: k.fn, service: k.service, operation: k.operation });
  }
  return [...keys.values()].sort(byKey).map((key) => {
    const entry = ofAction.find((f) => keyOf(f) === keyOf(key));
    const found = measured.find((m) => keyOf(m) === keyOf(key));
    const range = found ? { min: found.min, max: found.max, median: found.median } : zeroRange;
    const floorCount = entry?.floor ?? 0;
    const over = range.max > floorCount;
    return {
      ...key,
      action,
      measured: range,
      floor: floorCount,
      why: entry?.why ?? '',
      over,
      ...(over && {
        reason:
          OVER_FLOOR_REASONS[keyOf(key)] ??
          (entry === undefined
            ? 'not in the design: no handler path should make it'
            : 'more than the handler path needs: a retry or a repeated call'),
      }),
    };
  });
};

const zeroRange: Range = { min: 0, max: 0, median: 0 };
