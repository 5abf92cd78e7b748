import { Logger } from '@aws-lambda-powertools/logger';
import { S3Client } from '@aws-sdk/client-s3';
import { requireEnv } from '../shared/adapters/env';
import { customerEventHandler } from '../shared/adapters/sqs-batch';
import type { CustomerEvent } from '../shared/domain/events';
import { deleteArchive, readStoredArchive, writeArchive } from './archive-store';
import { planArchive } from './plan';

const logger = new Logger();
const s3 = new S3Client({});
const bucket = requireEnv('BUCKET_NAME');

const archive = async (event: CustomerEvent): Promise<void> => {
  const customerId = event.customer.id;
  const context = { eventId: event.eventId, customerId, type: event.type, version: event.version };
  const plan = planArchive(event, await readStoredArchive(s3, bucket, customerId));
  switch (plan.action) {
    case 'skip':
      logger.info('archive unchanged', { ...context, reason: plan.reason });
      return;
    case 'write':
      await writeArchive(s3, bucket, event, plan.replacing);
      break;
    case 'delete':
      await deleteArchive(s3, bucket, customerId);
      break;
  }
  logger.info('archive updated', { ...context, action: plan.action });
};

// One record at a time: two events of one customer in a batch would only race each
// other's conditional writes and spend a receive on the retry.
export const handler = customerEventHandler(archive, { logger, processInParallel: false });
