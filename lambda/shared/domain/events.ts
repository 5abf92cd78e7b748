import { isDeepStrictEqual } from 'node:util';
import * as z from 'zod/mini';
import { type Customer, customerSchema } from './customer';

export const CUSTOMER_EVENT_TYPES = [
  'CustomerCreated',
  'CustomerUpdated',
  'CustomerDeleted',
] as const;
export type CustomerEventType = (typeof CUSTOMER_EVENT_TYPES)[number];

/**
 * What this change means for marketing: `granted` when the customer is opted in
 * after it, `revoked` when they were opted in and no longer are (an opt-out, or
 * the deletion of an opted-in customer), `none` otherwise.
 */
export const MARKETING_CONSENTS = ['granted', 'revoked', 'none'] as const;
export type MarketingConsent = (typeof MARKETING_CONSENTS)[number];

/** The SNS message attribute that attribute-scope filter policies match on. */
export const MESSAGE_TYPE_ATTRIBUTE = 'MessageType';

export const customerEventSchema = z.object({
  eventId: z.string().check(z.minLength(1)),
  type: z.enum(CUSTOMER_EVENT_TYPES),
  occurredAt: z.iso.datetime(),
  version: z.int().check(z.positive()),
  customer: customerSchema,
  previous: z.optional(customerSchema),
  marketingConsent: z.enum(MARKETING_CONSENTS),
});
export type CustomerEvent = z.infer<typeof customerEventSchema>;

/** One change of a customer profile item, as the table's stream reports it. */
export type ProfileChange =
  | { readonly kind: 'INSERT'; readonly newImage: Customer }
  | { readonly kind: 'MODIFY'; readonly oldImage: Customer; readonly newImage: Customer }
  | { readonly kind: 'REMOVE'; readonly oldImage: Customer };

export interface ChangeMetadata {
  /** Stable per stream record, so a retried record yields the same event id. */
  readonly eventId: string;
  readonly occurredAt: Date;
}

/** Fields that change on every write and say nothing about the customer. */
const BOOKKEEPING_FIELDS: ReadonlySet<string> = new Set(['version', 'updatedAt']);

/** True when two images differ in more than bookkeeping fields; the avatar compares by value. */
export const differsInSubstance = (before: Customer, after: Customer): boolean => {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].some(
    (key) =>
      !BOOKKEEPING_FIELDS.has(key) &&
      !isDeepStrictEqual(before[key as keyof Customer], after[key as keyof Customer]),
  );
};

export const marketingConsentOf = (
  before: Customer | undefined,
  after: Customer | undefined,
): MarketingConsent => {
  if (after?.marketingOptIn) return 'granted';
  if (before?.marketingOptIn) return 'revoked';
  return 'none';
};

/**
 * The event a profile change publishes, or `undefined` for a change that is not
 * worth an event (a MODIFY that touched only bookkeeping fields).
 */
export const toCustomerEvent = (
  change: ProfileChange,
  meta: ChangeMetadata,
): CustomerEvent | undefined => {
  const base = { eventId: meta.eventId, occurredAt: meta.occurredAt.toISOString() };
  switch (change.kind) {
    case 'INSERT':
      return {
        ...base,
        type: 'CustomerCreated',
        version: change.newImage.version,
        customer: change.newImage,
        marketingConsent: marketingConsentOf(undefined, change.newImage),
      };
    case 'MODIFY':
      if (!differsInSubstance(change.oldImage, change.newImage)) return undefined;
      return {
        ...base,
        type: 'CustomerUpdated',
        version: change.newImage.version,
        customer: change.newImage,
        previous: change.oldImage,
        marketingConsent: marketingConsentOf(change.oldImage, change.newImage),
      };
    case 'REMOVE':
      return {
        ...base,
        type: 'CustomerDeleted',
        version: change.oldImage.version,
        customer: change.oldImage,
        marketingConsent: marketingConsentOf(change.oldImage, undefined),
      };
  }
};
