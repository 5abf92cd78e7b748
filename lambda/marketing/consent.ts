import type { CustomerEvent } from '../shared/domain/events';

export interface MarketingContact {
  readonly customerId: string;
  readonly email: string;
  readonly fullName: string;
  readonly consentVersion: number;
}

export const contactKey = (customerId: string): string => `marketing/contacts/${customerId}.json`;

/**
 * Where a consent change sits in the customer's history. A deletion carries the
 * version of the state it removed, yet comes after it: without the step, the revoke
 * of a customer deleted at version 1 would look like a duplicate of their version-1
 * grant. Nothing can follow a deletion (ids are never reused), so no real version
 * ever takes that place.
 */
export const consentVersion = (event: CustomerEvent): number =>
  event.type === 'CustomerDeleted' ? event.version + 1 : event.version;

export const contactOf = (event: CustomerEvent): MarketingContact => ({
  customerId: event.customer.id,
  email: event.customer.email,
  fullName: event.customer.fullName,
  consentVersion: consentVersion(event),
});
