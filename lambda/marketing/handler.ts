import { Logger } from '@aws-lambda-powertools/logger';
import { S3Client } from '@aws-sdk/client-s3';
import { createDocumentClient } from '../shared/adapters/dynamodb';
import { requireEnv } from '../shared/adapters/env';
import { BusinessMetrics } from '../shared/adapters/metrics';
import { customerEventHandler } from '../shared/adapters/sqs-batch';
import { METRICS, TTL_ATTRIBUTE } from '../shared/contract';
import { deletedCustomerExpiry } from '../shared/domain/deletion';
import type { CustomerEvent } from '../shared/domain/events';
import { consentVersion, contactOf } from './consent';
import {
  type ConsentRecord,
  readConsentState,
  recordConsent,
  recordConsentWhileCustomerExists,
} from './consent-guard';
import { deleteContactForGood, deleteContactVersion, putContact } from './contacts';

const logger = new Logger();
const metrics = new BusinessMetrics({ logger });
const doc = createDocumentClient();
const s3 = new S3Client({});
const bucket = requireEnv('CONTACTS_BUCKET_NAME');
const tableName = requireEnv('TABLE_NAME');

/*
 * The consent record (DynamoDB) orders the changes; the contact (S3) follows it. (A duplicate
 * or late event that finds nothing left to remove counts nothing: ContactsRemoved is contacts
 * gone, below.)
 * - Twice: a duplicate finds its own version recorded and changes nothing (a repeated
 *   revoke deletes again, which is idempotent).
 * - Late, after a newer change: a grant finds a version at or above its own and writes
 *   nothing, and when that change revoked, it makes sure no version of the contact is
 *   left (an earlier attempt of its own may have written one, then failed to record).
 *   A revoke behind a newer grant changes nothing.
 * - After the customer is gone: the deletion replaced the record by a tombstone
 *   (revoked, above every version of the customer), so the rules above apply to every
 *   late event. A grant also reads the profile, so once the tombstone has expired it
 *   still writes nothing; a revoke other than the deletion's own records only while
 *   the profile exists, so nothing without an expiry is left behind.
 * - Racing: a grant checks, writes the contact, then records; if a newer change was
 *   recorded meanwhile, it undoes its write (every version, when that change revoked).
 *   A revoke records first, then deletes, so a grant whose write the deletion misses
 *   finds the revoke recorded and undoes itself.
 * - An AWS call fails once: the record fails and is redelivered. The steps above are
 *   idempotent and each retry starts from the record's current state: a contact written
 *   before a failed record is found by the retry (same version: rewritten; a newer change
 *   recorded meanwhile: removed).
 * Remaining races, in the safe direction: a stale revoke recorded just before a newer
 * grant, or a stale grant's clean-up, may delete that grant's contact; the record then
 * says granted with no contact until the customer's next consent change. Two grants in
 * flight at once may leave the older one's name and email until the next change.
 */
/**
 * Every version of the contact deleted. ContactsRemoved counts a removal that found a contact
 * to delete, whichever change it follows (a revoke recorded, the customer deleted, a grant
 * undone behind a newer revoke); a duplicate or late event that finds none counts nothing.
 */
const removeContact = async (customerId: string): Promise<void> => {
  if ((await deleteContactForGood(s3, bucket, customerId)) > 0) {
    metrics.count(METRICS.contactsRemoved);
  }
};

const grant = async (event: CustomerEvent, version: number): Promise<string> => {
  const customerId = event.customer.id;
  const { recorded, customerExists } = await readConsentState(doc, tableName, customerId);
  if (!customerExists) {
    await removeContact(customerId);
    return 'customer deleted';
  }
  if (recorded !== undefined && recorded.version >= version) {
    if (recorded.consent === 'revoked') await removeContact(customerId);
    return 'stale or duplicate';
  }
  const versionId = await putContact(s3, bucket, contactOf(event));
  const record = { consent: 'granted', version, eventId: event.eventId } as const;
  const outcome = await recordConsent(doc, tableName, customerId, record, { orSame: false });
  if (outcome.recorded) {
    metrics.count(METRICS.contactsAdded);
    return 'granted';
  }
  if (outcome.newer?.consent === 'revoked') await removeContact(customerId);
  else await deleteContactVersion(s3, bucket, customerId, versionId);
  return 'overtaken by a newer change';
};

const revoke = async (event: CustomerEvent, version: number, now: Date): Promise<string> => {
  const customerId = event.customer.id;
  const record: ConsentRecord = { consent: 'revoked', version, eventId: event.eventId };
  // The deletion's own revoke: the profile is gone, so the record is a tombstone again.
  const outcome =
    event.type === 'CustomerDeleted'
      ? await recordConsent(
          doc,
          tableName,
          customerId,
          {
            ...record,
            deleted: true,
            deletedAt: event.occurredAt,
            [TTL_ATTRIBUTE]: deletedCustomerExpiry(now),
          },
          { orSame: true },
        )
      : await recordConsentWhileCustomerExists(doc, tableName, customerId, record);
  if (outcome === 'customer-deleted') {
    await removeContact(customerId);
    return 'customer deleted';
  }
  // Behind a newer revoke (or the tombstone), deleting again is what that change wants.
  if (!outcome.recorded && outcome.newer?.consent !== 'revoked') return 'stale';
  await removeContact(customerId);
  return outcome.recorded ? 'revoked' : 'already revoked';
};

const applyConsent = async (event: CustomerEvent): Promise<void> => {
  const context = { eventId: event.eventId, customerId: event.customer.id, type: event.type };
  // The subscription filter passes only granted and revoked; `none` changes nothing.
  if (event.marketingConsent === 'none') {
    logger.debug('no consent change; ignored', context);
    return;
  }
  const version = consentVersion(event);
  const outcome =
    event.marketingConsent === 'granted'
      ? await grant(event, version)
      : await revoke(event, version, new Date());
  logger.info('consent change handled', { ...context, version, outcome });
};

// One record at a time: two changes of one customer in a batch never interleave.
export const handler = customerEventHandler(applyConsent, {
  logger,
  metrics,
  processInParallel: false,
});
