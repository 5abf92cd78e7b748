/**
 * The single table's item keys. Every read is a point read (or a Query on one
 * customer's partition); nothing needs a Scan or a secondary index.
 */
export const PROFILE_SK = 'PROFILE';
export const CUSTOMER_PK_PREFIX = 'CUSTOMER#';

export interface ItemKey {
  readonly pk: string;
  readonly sk: string;
}

export const customerPk = (id: string): string => `${CUSTOMER_PK_PREFIX}${id}`;

export const profileKey = (id: string): ItemKey => ({ pk: customerPk(id), sk: PROFILE_SK });

/** One item per email address, holding the id of the customer that owns it: uniqueness. */
export const emailClaimKey = (email: string): ItemKey => ({ pk: `EMAIL#${email}`, sk: 'EMAIL' });

/*
 * A customer's partition holds its profile, the welcome claim and the consent record,
 * nothing else: the deletion removes or replaces each of them by key, in the
 * transaction that removes the profile (a Query beforehand could miss an item written
 * after it). An item kind added to the partition must be added to that deletion.
 */

/** The welcome consumer's claim, so a redelivered event sends nothing twice. */
export const welcomeKey = (id: string): ItemKey => ({
  pk: customerPk(id),
  sk: 'NOTIFICATION#WELCOME',
});

/**
 * The marketing consumer's record of the newest consent change it applied; once the
 * customer is deleted, the customer's tombstone (`tombstoneOf`).
 */
export const marketingConsentKey = (id: string): ItemKey => ({
  pk: customerPk(id),
  sk: 'MARKETING#CONSENT',
});
