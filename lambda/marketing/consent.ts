import { deletionVersion } from '../shared/domain/deletion';
import type { CustomerEvent } from '../shared/domain/events';

export interface MarketingContact {
  readonly customerId: string;
  readonly email: string;
  readonly fullName: string;
  readonly consentVersion: number;
}

/**
 * Where a consent change sits in the customer's history. A deletion takes the place
 * after the version it removed, the same as its tombstone: without the step, the
 * revoke of a customer deleted at version 1 would look like a duplicate of their
 * version-1 grant.
 */
export const consentVersion = (event: CustomerEvent): number =>
  event.type === 'CustomerDeleted' ? deletionVersion(event.version) : event.version;

export const contactOf = (event: CustomerEvent): MarketingContact => ({
  customerId: event.customer.id,
  email: event.customer.email,
  fullName: event.customer.fullName,
  consentVersion: consentVersion(event),
});
