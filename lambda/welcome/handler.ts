import { Logger } from '@aws-lambda-powertools/logger';
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { createDocumentClient } from '../shared/adapters/dynamodb';
import { requireEnv } from '../shared/adapters/env';
import { BusinessMetrics } from '../shared/adapters/metrics';
import { customerEventHandler, type Delivery } from '../shared/adapters/sqs-batch';
import { METRICS } from '../shared/contract';
import type { CustomerEvent } from '../shared/domain/events';
import { claimWelcome, markWelcomeSent } from './claim';
import { welcomeNotifier } from './notifier';

/*
 * One welcome per customer, sent at least once and marked once.
 * - Twice: the claim (`NOTIFICATION#WELCOME`) is taken once; a redelivery finds it SENT,
 *   or held by a live attempt (and is retried later); the provider dedupes a resend
 *   after a crash by the Idempotency-Key, the event id.
 * - Late: only creations arrive here, so nothing newer can overtake one.
 * - After the customer is gone: the claim is taken only while the profile exists, and
 *   the deletion removes the claim with the profile, so marking it SENT fails and the
 *   retry finds the customer gone. Nothing without an expiry is left behind.
 * - An AWS call or the provider fails once: the record fails and is redelivered; the
 *   redelivery takes its own event's PENDING claim over at once (the attempt that took it
 *   is over: SQS redelivers only after the visibility timeout) and sends under the same
 *   Idempotency-Key. Another message of the same event (a duplicate publication) waits for
 *   the lock. The claim itself expires if no attempt ever succeeds.
 */
const logger = new Logger();
const metrics = new BusinessMetrics({ logger });
const doc = createDocumentClient();
const tableName = requireEnv('TABLE_NAME');
const apiKeySecretArn = requireEnv('NOTIFICATION_API_KEY_SECRET_ARN');
const sendWelcome = welcomeNotifier(requireEnv('NOTIFICATION_ENDPOINT'));

/** Cached for five minutes across invocations, so a rotated key is picked up soon. */
const notificationApiKey = async (): Promise<string> => {
  const value = await getSecret(apiKeySecretArn, { maxAge: 300 });
  if (typeof value !== 'string' || value === '') {
    throw new Error('the notification API key secret holds no string');
  }
  return value;
};

const welcome = async (event: CustomerEvent, delivery: Delivery): Promise<void> => {
  const context = { eventId: event.eventId, customerId: event.customer.id };
  // The subscription filter passes only CustomerCreated; anything else is not ours.
  if (event.type !== 'CustomerCreated') {
    logger.debug('not a creation; ignored', { ...context, type: event.type });
    return;
  }
  // Read before claiming, so a missing key fails the record without writing anything.
  const apiKey = await notificationApiKey();
  const claim = await claimWelcome(doc, tableName, event, new Date(), {
    redelivered: delivery.receiveCount > 1,
  });
  if (claim !== 'claimed') {
    logger.info('welcome not sent', { ...context, reason: claim });
    metrics.count(
      claim === 'already-sent' ? METRICS.welcomesSkippedDuplicate : METRICS.welcomesSkippedDeleted,
    );
    return;
  }
  await sendWelcome(apiKey, event);
  await markWelcomeSent(doc, tableName, event, new Date());
  logger.info('welcome sent', context);
  metrics.count(METRICS.welcomesSent);
};

export const handler = customerEventHandler(welcome, { logger, metrics });
