import { Logger } from '@aws-lambda-powertools/logger';
import { S3Client } from '@aws-sdk/client-s3';
import { requireEnv } from '../shared/adapters/env';
import { BusinessMetrics } from '../shared/adapters/metrics';
import { customerEventHandler } from '../shared/adapters/sqs-batch';
import { METRICS } from '../shared/contract';
import type { CustomerEvent } from '../shared/domain/events';
import { readStoredArchive, tombstoneOfEvent, writeArchive, writeTombstone } from './archive-store';
import { planArchive } from './plan';

/*
 * `customers/<id>.json` in a versioned bucket: its versions are the customer's history.
 * (A duplicate, late or post-deletion event counts as ArchiveStaleEventsIgnored, never as a
 * version written; a failed record as RecordsFailed, counted in sqs-batch.ts.)
 * - Twice, or late after a newer change: the stored version (object metadata, read by
 *   HeadObject) is the same or newer, and nothing is written.
 * - Racing: every write is conditional on the object read (If-Match) or on there being
 *   none (If-None-Match), so a concurrent write fails the record, and its retry reads
 *   the new state.
 * - After the customer is gone: the deletion wrote a tombstone version, and a late event
 *   of any kind, even one redriven weeks later, reads "deleted" and writes nothing.
 *   A deletion that arrives before the customer's other events writes the tombstone on
 *   an empty key, so they find it when they come.
 * - An AWS call fails once: the record fails alone and SQS redelivers it; nothing was
 *   written, or a whole version was, and the retry reads which.
 */
const logger = new Logger();
const metrics = new BusinessMetrics({ logger });
const s3 = new S3Client({});
const bucket = requireEnv('BUCKET_NAME');

const archive = async (event: CustomerEvent): Promise<void> => {
  const customerId = event.customer.id;
  const context = { eventId: event.eventId, customerId, type: event.type, version: event.version };
  const plan = planArchive(event, await readStoredArchive(s3, bucket, customerId));
  switch (plan.action) {
    case 'skip':
      logger.info('archive unchanged', { ...context, reason: plan.reason });
      metrics.count(METRICS.archiveStaleEventsIgnored);
      return;
    case 'write':
      await writeArchive(s3, bucket, event, plan.replacing);
      break;
    case 'tombstone':
      await writeTombstone(s3, bucket, tombstoneOfEvent(event), plan.replacing);
      break;
  }
  logger.info('archive updated', { ...context, action: plan.action });
  metrics.count(METRICS.archiveVersionsWritten);
};

// One record at a time: two events of one customer in a batch would only race each
// other's conditional writes and spend a receive on the retry.
export const handler = customerEventHandler(archive, {
  logger,
  metrics,
  processInParallel: false,
});
