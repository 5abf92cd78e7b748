import { TTL_ATTRIBUTE } from '../contract';

/**
 * What a deleted customer leaves behind, and for how long. Ids are never reused, so
 * a customer whose profile is gone is gone for good. The tombstone stops what the
 * profile's absence cannot (a consumer that read the profile just before the
 * deletion, and writes after it), and is kept for every event that can still arrive.
 */

/**
 * How long a deleted customer's tombstone is kept: longer than an event can take to
 * reach a consumer (up to 4 days in a consumer queue; SNS retries a delivery to SQS
 * for at most 23 days). A redrive resends with a fresh age, so `npm run dlq -- redrive`
 * refuses events too old for it (`maxRedriveAgeSeconds`).
 */
export const DELETED_CUSTOMER_TTL_DAYS = 30;

const DAY_SECONDS = 24 * 60 * 60;

export const DELETED_CUSTOMER_TTL_SECONDS = DELETED_CUSTOMER_TTL_DAYS * DAY_SECONDS;

export const epochSeconds = (date: Date): number => Math.floor(date.getTime() / 1000);

/** When an item a deletion at `now` leaves behind may vanish (the table's TTL attribute). */
export const deletedCustomerExpiry = (now: Date): number =>
  epochSeconds(now) + DELETED_CUSTOMER_TTL_SECONDS;

/**
 * Where a deletion sits in the customer's history. A deletion carries the version of
 * the state it removed, yet comes after it; nothing can follow it, so no real version
 * ever takes this place.
 */
export const deletionVersion = (lastVersion: number): number => lastVersion + 1;

/**
 * The tombstone a deletion leaves in the customer's consent record: consent revoked
 * at a version above every earlier change, the customer marked deleted, gone after
 * the TTL. Every consumer reads it as "deleted".
 */
export interface Tombstone {
  readonly consent: 'revoked';
  readonly version: number;
  readonly deleted: true;
  readonly deletedAt: string;
  /** Epoch seconds. */
  readonly [TTL_ATTRIBUTE]: number;
}

export const tombstoneOf = (lastVersion: number, now: Date): Tombstone => ({
  consent: 'revoked',
  version: deletionVersion(lastVersion),
  deleted: true,
  deletedAt: now.toISOString(),
  [TTL_ATTRIBUTE]: deletedCustomerExpiry(now),
});

/**
 * The oldest event a dead-letter redrive may send back: once redriven, it can wait up
 * to `sourceRetentionSeconds` in its queue again, and must still meet the tombstone
 * of a customer deleted after it happened. One day of slack besides.
 */
export const maxRedriveAgeSeconds = (sourceRetentionSeconds: number): number =>
  DELETED_CUSTOMER_TTL_SECONDS - sourceRetentionSeconds - DAY_SECONDS;

/** How long SNS retries a delivery to an SQS queue, at most. */
export const SNS_TO_SQS_RETRY_SECONDS = 23 * DAY_SECONDS;

/**
 * The oldest change a replay of the stream's failures may publish: once published, its event
 * can take SNS's retries and `queueRetentionSeconds` in a consumer queue to arrive, and must
 * still meet the tombstone of a customer deleted after it happened.
 */
export const maxReplayAgeSeconds = (queueRetentionSeconds: number): number =>
  maxRedriveAgeSeconds(SNS_TO_SQS_RETRY_SECONDS + queueRetentionSeconds);
