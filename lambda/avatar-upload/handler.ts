import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { AvatarUploads, createPresigningS3Client } from '../shared/adapters/avatar-uploads';
import { CustomerRepository } from '../shared/adapters/customer-repository';
import { createDocumentClient } from '../shared/adapters/dynamodb';
import { requireEnv } from '../shared/adapters/env';
import { customerIdParameter, json, type Response, toErrorResponse } from '../shared/adapters/http';
import { CustomerNotFound } from '../shared/domain/errors';

const logger = new Logger();
const customers = new CustomerRepository(createDocumentClient(), requireEnv('TABLE_NAME'));
const avatars = new AvatarUploads(createPresigningS3Client(), requireEnv('BUCKET_NAME'));

/*
 * A request that writes nothing: it reads the profile and signs a URL.
 * - Twice: each call signs a fresh URL for the same key (`avatars/<id>`); uploads replace
 *   the avatar, and the bucket keeps the replaced versions for a while.
 * - Late, or after a newer request: it writes nothing, so order does not matter; the URL
 *   it signs expires on its own, and an upload through it replaces whatever avatar is there.
 * - After the customer is gone: the consistent read finds no profile, so 404 and no URL.
 * - An AWS call fails once: throttling is retried by the SDK and then answered 503 with
 *   Retry-After; anything else 500 (`dynamodb-errors.ts`). Nothing was written either way.
 */

/**
 * `POST /customers/{id}/avatar-upload`, the one route with a function of its own:
 * only it needs the S3 client and the presigner, which would otherwise load on
 * every cold start of the API's other routes.
 */
export const handler = async (
  event: APIGatewayProxyEventV2,
  context: Context,
): Promise<Response> => {
  logger.addContext(context);
  try {
    const id = customerIdParameter(event);
    // Consistent: clients ask for an upload URL right after creating the customer.
    if ((await customers.findById(id, { consistent: true })) === undefined) {
      throw new CustomerNotFound(id);
    }
    return json(200, await avatars.presignPut(id));
  } catch (error) {
    return toErrorResponse(error, event, logger);
  }
};
