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

/** The welcome consumer's claim, so a redelivered event sends nothing twice. */
export const welcomeKey = (id: string): ItemKey => ({
  pk: customerPk(id),
  sk: 'NOTIFICATION#WELCOME',
});

/** The marketing consumer's record of the newest consent change it applied. */
export const marketingConsentKey = (id: string): ItemKey => ({
  pk: customerPk(id),
  sk: 'MARKETING#CONSENT',
});
