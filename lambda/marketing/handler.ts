import { Logger } from '@aws-lambda-powertools/logger';
import { S3Client } from '@aws-sdk/client-s3';
import { createDocumentClient } from '../shared/adapters/dynamodb';
import { requireEnv } from '../shared/adapters/env';
import { customerEventHandler } from '../shared/adapters/sqs-batch';
import type { CustomerEvent } from '../shared/domain/events';
import { consentVersion, contactOf } from './consent';
import { type ConsentRecord, readConsentVersion, recordConsent } from './consent-guard';
import { deleteContactForGood, deleteContactVersion, putContact } from './contacts';

const logger = new Logger();
const doc = createDocumentClient();
const s3 = new S3Client({});
const bucket = requireEnv('BUCKET_NAME');
const tableName = requireEnv('TABLE_NAME');

/**
 * Outlives any redelivery of the deleted customer's older events (SQS keeps a
 * message at most 14 days), then frees the deleted customer's partition.
 */
const DELETED_GUARD_TTL_SECONDS = 30 * 24 * 60 * 60;

/*
 * The guard item (DynamoDB) orders the changes; the contact (S3) follows it.
 * Grant: check, write the contact, then record. If a newer change was recorded in
 * the meantime, the grant undoes its own write, so it never lands on top of a
 * newer contact or outlives a revoke.
 * Revoke: record first, then delete. Any grant whose write the deletion might miss
 * finds the revoke recorded and undoes itself. A revoke retried after a crash
 * between the two steps may record its own version again, to reach the deletion.
 * Remaining race, in the safe direction: a stale revoke recorded just before a
 * newer grant may delete that grant's contact; the guard then says granted with no
 * contact until the customer's next consent change. Two grants in flight at once
 * may leave the older one's name and email until the next change.
 */
const grant = async (event: CustomerEvent, version: number): Promise<string> => {
  const customerId = event.customer.id;
  const applied = await readConsentVersion(doc, tableName, customerId);
  if (applied !== undefined && applied >= version) return 'stale or duplicate';
  const versionId = await putContact(s3, bucket, contactOf(event));
  const record = { consent: 'granted', version, eventId: event.eventId } as const;
  if (await recordConsent(doc, tableName, customerId, record, { orSame: false })) return 'granted';
  await deleteContactVersion(s3, bucket, customerId, versionId);
  return 'overtaken by a newer change';
};

const revoke = async (event: CustomerEvent, version: number, now: Date): Promise<string> => {
  const customerId = event.customer.id;
  const record: ConsentRecord = {
    consent: 'revoked',
    version,
    eventId: event.eventId,
    ...(event.type === 'CustomerDeleted' && {
      expiresAt: Math.floor(now.getTime() / 1000) + DELETED_GUARD_TTL_SECONDS,
    }),
  };
  if (!(await recordConsent(doc, tableName, customerId, record, { orSame: true }))) {
    return 'stale';
  }
  await deleteContactForGood(s3, bucket, customerId);
  return 'revoked';
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
export const handler = customerEventHandler(applyConsent, { logger, processInParallel: false });
