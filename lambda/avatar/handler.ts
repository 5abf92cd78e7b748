import { Logger } from '@aws-lambda-powertools/logger';
import { S3Client } from '@aws-sdk/client-s3';
import type {
  APIGatewayProxyEventV2,
  Context,
  SQSBatchResponse,
  SQSEvent,
  SQSRecord,
} from 'aws-lambda';
import { resizeAvatar } from '../shared/adapters/avatar-resize';
import { CustomerRepository } from '../shared/adapters/customer-repository';
import { createDocumentClient } from '../shared/adapters/dynamodb';
import { requireEnv } from '../shared/adapters/env';
import {
  customerIdParameter,
  errorResponse,
  type Response,
  redirect,
  toErrorResponse,
} from '../shared/adapters/http';
import { BusinessMetrics } from '../shared/adapters/metrics';
import { parseCustomerEvent, sqsBatchProcessor } from '../shared/adapters/sqs-batch';
import { AVATAR_ROUTE, METRICS } from '../shared/contract';
import { DEFAULT_AVATAR_LIMITS } from '../shared/domain/avatar-image';
import { CustomerNotFound } from '../shared/domain/errors';
import { AvatarStore } from './avatar-store';
import { type DecoderTrapped, processUpload, type Resize } from './process-upload';
import { parseUploadNotification } from './upload-notification';

/*
 * The avatar function: S3's notifications of uploads (one queue), the customer deletions
 * (another, subscribed to the events topic), and `GET /customers/{id}/avatar`.
 *
 * An upload (`process-upload.ts`) is recorded on the profile by a conditional update that
 * holds it to the customer existing and to no avatar from the same or a later upload being
 * recorded (S3's sequencer orders the uploads of the one key); its version is deleted once
 * dealt with, and only then.
 * - Twice: the second finds its sequencer recorded, or its version gone, and writes nothing.
 *   Two deliveries at once both publish; only one records, and the other deletes its image.
 * - Late, after a newer upload: the recorded sequencer is later, so nothing is published.
 *   If the newer one records while this one works, this one deletes what it published.
 * - After the customer is gone: the profile is missing, so nothing is published; if the
 *   deletion lands while it works, the update's condition fails and it deletes its image
 *   (check after write): either its write happened before the erase listed the versions,
 *   and the erase removes it, or after, and it removes it itself.
 * - An AWS call fails once: the record fails and SQS redelivers it; the upload is still
 *   there, so the retry does it all again. A failed update first deletes the image it
 *   published, so none is left that no profile names.
 * - A trapped decode (a valid header over corrupt data) rejects the upload, then retires
 *   this environment (the process exits): a WebAssembly module that trapped may hold a
 *   corrupt heap. The uploads queue hands one message per invocation, so only that upload,
 *   already dealt with, is redelivered, and finds its version gone.
 *
 * A deletion erases every version of every avatar key of the customer: idempotent, so a
 * duplicate or a late one does it again, harmlessly; an upload after it finds no profile.
 * A malformed message on either queue fails, and after three receives is in its DLQ. With
 * `ordering: perCustomer` the deletions queue is FIFO: a failed deletion holds back only its
 * own customer's later messages (sqs-batch.ts); the uploads queue stays standard (S3 cannot
 * notify a FIFO queue).
 */

const logger = new Logger();
const metrics = new BusinessMetrics({ logger });
const s3 = new S3Client({});
const customers = new CustomerRepository(createDocumentClient(), requireEnv('TABLE_NAME'));
const store = new AvatarStore(s3, requireEnv('BUCKET_NAME'));
const uploadsQueueArn = requireEnv('UPLOADS_QUEUE_ARN');
const limits = { ...DEFAULT_AVATAR_LIMITS, maxBytes: Number(requireEnv('AVATAR_MAX_BYTES')) };

const resize: Resize = async (bytes) => resizeAvatar(bytes);

/**
 * Ends this environment, once the outcome is logged: Lambda starts a fresh one for the next
 * invocation, and fails this one (Runtime.ExitError). Writes to a pipe are synchronous on
 * Linux, so every line logged so far is out.
 */
const retire = (error: DecoderTrapped): void => {
  logger.error('the image decoder trapped; retiring this environment', { error });
  // The exit skips the handler's end, and its publish.
  metrics.publish();
  process.exit(1);
};

const handleUploads = async (record: SQSRecord): Promise<void> => {
  for (const upload of parseUploadNotification(record.messageId, record.body)) {
    let trapped: DecoderTrapped | undefined;
    const result = await processUpload(
      upload,
      { customers, store, resize, limits, now: () => new Date() },
      (error) => {
        trapped = error;
      },
    );
    logger.info('avatar upload handled', {
      customerId: upload.customerId,
      key: upload.key,
      versionId: upload.versionId,
      sequencer: upload.sequencer,
      ...result,
    });
    if (result.outcome === 'published') metrics.count(METRICS.avatarsPublished);
    if (trapped !== undefined) retire(trapped);
  }
};

const handleDeletion = async (record: SQSRecord): Promise<void> => {
  const event = parseCustomerEvent(record);
  // The subscription passes deletions only; anything else is not this function's.
  if (event.type !== 'CustomerDeleted') {
    logger.warn('not a deletion; ignored', { eventId: event.eventId, type: event.type });
    return;
  }
  const deleted = await store.erase(event.customer.id);
  logger.info('avatars erased', {
    eventId: event.eventId,
    customerId: event.customer.id,
    outcome: 'erased',
    versionsDeleted: deleted,
  });
  // A duplicate or late deletion finds nothing left: one count per customer's avatars erased.
  if (deleted > 0) metrics.count(METRICS.avatarsErased);
};

const batches = sqsBatchProcessor(metrics);

const handleRecord = async (record: SQSRecord): Promise<void> => {
  try {
    if (record.eventSourceARN === uploadsQueueArn) await handleUploads(record);
    else await handleDeletion(record);
  } catch (error) {
    logger.error('record failed; SQS will redeliver it', { messageId: record.messageId, error });
    throw error;
  }
};

/** `GET /customers/{id}/avatar`: a redirect to the recorded version, for a short while. */
const serveAvatar = async (event: APIGatewayProxyEventV2): Promise<Response> => {
  if (event.routeKey !== AVATAR_ROUTE) return errorResponse(404, 'not found');
  try {
    const id = customerIdParameter(event);
    const customer = await customers.findById(id, { consistent: true });
    if (customer === undefined) throw new CustomerNotFound(id);
    if (customer.avatar === undefined) return errorResponse(404, `customer ${id} has no avatar`);
    const location = await store.presignGet(customer.avatar.key, customer.avatar.versionId);
    return redirect(location);
  } catch (error) {
    return toErrorResponse(error, event, logger);
  }
};

const isHttpEvent = (event: SQSEvent | APIGatewayProxyEventV2): event is APIGatewayProxyEventV2 =>
  'routeKey' in event;

export const handler = metrics.publishing(
  async (
    event: SQSEvent | APIGatewayProxyEventV2,
    context: Context,
  ): Promise<SQSBatchResponse | Response> => {
    logger.addContext(context);
    if (isHttpEvent(event)) return metrics.answer(serveAvatar(event));
    // One at a time: decoding two large images at once would double the memory they need.
    return batches(event, context, handleRecord, { processInParallel: false });
  },
);
