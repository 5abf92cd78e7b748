import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import * as z from 'zod/mini';
import { AvatarUploads, createPresigningS3Client } from '../shared/adapters/avatar-uploads';
import { CustomerRepository } from '../shared/adapters/customer-repository';
import { createDocumentClient } from '../shared/adapters/dynamodb';
import { requireEnv } from '../shared/adapters/env';
import {
  customerIdParameter,
  json,
  jsonBody,
  type Response,
  toErrorResponse,
  validate,
} from '../shared/adapters/http';
import { BusinessMetrics } from '../shared/adapters/metrics';
import { AVATAR_CONTENT_TYPES } from '../shared/domain/avatar-image';
import { CustomerNotFound } from '../shared/domain/errors';

const logger = new Logger();
const metrics = new BusinessMetrics({ logger });
const customers = new CustomerRepository(createDocumentClient(), requireEnv('TABLE_NAME'));
const avatars = new AvatarUploads(
  createPresigningS3Client(),
  requireEnv('BUCKET_NAME'),
  Number(requireEnv('AVATAR_MAX_BYTES')),
);

/** What the client says it will upload: the form's policy then allows that type only. */
const uploadRequestSchema = z.strictObject({ contentType: z.enum(AVATAR_CONTENT_TYPES) });

/*
 * A request that writes nothing: it reads the profile and signs a form.
 * - Twice: each call signs a fresh form for the same key (`avatar-uploads/<id>`); each upload
 *   through one replaces the last (the bucket keeps the replaced versions for a while).
 * - Late, or after a newer request: it writes nothing, so order does not matter; the form it
 *   signs expires on its own.
 * - After the customer is gone: the consistent read finds no profile, so 404 and no form.
 * - An AWS call fails once: throttling is retried by the SDK and then answered 503 with
 *   Retry-After; anything else 500 (`dynamodb-errors.ts`). Nothing was written either way.
 * - A body without a content type it accepts: 422 before anything is read.
 */

/**
 * `POST /customers/{id}/avatar-upload` with `{"contentType": "image/png" | "image/jpeg" |
 * "image/webp"}`, the one route with a function of its own: only it needs the S3 client and
 * the presigner, which would otherwise load on every cold start of the API's other routes.
 */
const answer = async (event: APIGatewayProxyEventV2): Promise<Response> => {
  try {
    const id = customerIdParameter(event);
    const { contentType } = validate(uploadRequestSchema, jsonBody(event));
    // Consistent: clients ask for an upload form right after creating the customer.
    if ((await customers.findById(id, { consistent: true })) === undefined) {
      throw new CustomerNotFound(id);
    }
    return json(200, await avatars.presignPost(id, contentType));
  } catch (error) {
    return toErrorResponse(error, event, logger);
  }
};

export const handler = metrics.publishing(
  async (event: APIGatewayProxyEventV2, context: Context): Promise<Response> => {
    logger.addContext(context);
    return metrics.answer(answer(event));
  },
);
