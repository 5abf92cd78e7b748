import { randomUUID } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { CustomerRepository } from '../shared/adapters/customer-repository';
import { createDocumentClient } from '../shared/adapters/dynamodb';
import { requireEnv } from '../shared/adapters/env';
import {
  customerIdParameter,
  errorResponse,
  HttpError,
  header,
  json,
  jsonBody,
  noContent,
  pathParameter,
  type Response,
  toErrorResponse,
  validate,
} from '../shared/adapters/http';
import { BusinessMetrics } from '../shared/adapters/metrics';
import { CUSTOMER_ROUTES, type CustomerRouteKey, METRICS } from '../shared/contract';
import {
  type Customer,
  customerIdSchema,
  customerInputSchema,
  emailSchema,
  etagOf,
  type IfMatch,
  ifMatchSatisfied,
  isUnchanged,
  newCustomer,
  parseIfMatch,
  replaceCustomer,
} from '../shared/domain/customer';
import { CustomerNotFound, PreconditionRequired, VersionConflict } from '../shared/domain/errors';

/*
 * A request, not a message, but clients retry and race (a repeated request that writes nothing
 * counts no customer created, updated or deleted; every answer counts by its status class):
 * - Twice: a repeated POST of one email is a 409 (the email claim); a repeated PUT or
 *   DELETE carries an If-Match the first one made stale, so it is a 412 (or a 404), never a
 *   second write; a PUT that changes nothing writes nothing.
 * - After the customer is gone: a read of the profile answers 404, and a write racing the
 *   deletion fails its version condition (412): nothing brings the profile or its email
 *   claim back (README, Guarantees).
 * - An AWS call fails once: every write is one transaction, so nothing is half-written.
 *   A conflict with another transaction or throttling is retried; a store still busy
 *   answers 503 with Retry-After, any other failure 500 (`dynamodb-errors.ts`).
 */
const logger = new Logger();
const metrics = new BusinessMetrics({ logger });
const customers = new CustomerRepository(createDocumentClient(), requireEnv('TABLE_NAME'));

type Event = APIGatewayProxyEventV2;

const withEtag = (statusCode: number, customer: Customer, headers: Record<string, string> = {}) =>
  json(statusCode, customer, { etag: etagOf(customer), ...headers });

const requiredIfMatch = (event: Event): IfMatch => {
  const ifMatch = header(event, 'if-match');
  if (ifMatch === undefined || ifMatch.trim() === '') throw new PreconditionRequired();
  return parseIfMatch(ifMatch);
};

/** The current customer, read consistently because a write depends on it, checked against If-Match. */
const currentMatching = async (id: string, ifMatch: IfMatch): Promise<Customer> => {
  const current = await customers.findById(id, { consistent: true });
  if (current === undefined) throw new CustomerNotFound(id);
  if (!ifMatchSatisfied(ifMatch, current)) throw new VersionConflict(id, current.version);
  return current;
};

const createCustomer = async (event: Event): Promise<Response> => {
  const input = validate(customerInputSchema, jsonBody(event));
  const customer = newCustomer(randomUUID(), input, new Date());
  await customers.create(customer);
  metrics.count(METRICS.customersCreated);
  return withEtag(201, customer, { location: `/customers/${customer.id}` });
};

const findByIdOrEmail = async (idOrEmail: string): Promise<Customer | undefined> => {
  const id = customerIdSchema.safeParse(idOrEmail);
  if (id.success) return customers.findById(id.data.toLowerCase());
  const email = emailSchema.safeParse(idOrEmail);
  if (!email.success) throw new HttpError(400, 'expected a customer id (UUID) or an email address');
  return customers.findByEmail(email.data);
};

const getCustomer = async (event: Event): Promise<Response> => {
  const idOrEmail = pathParameter(event, 'idOrEmail');
  const customer = await findByIdOrEmail(idOrEmail);
  if (customer === undefined) throw new CustomerNotFound(idOrEmail);
  return withEtag(200, customer);
};

const putCustomer = async (event: Event): Promise<Response> => {
  const id = customerIdParameter(event);
  const input = validate(customerInputSchema, jsonBody(event));
  const current = await currentMatching(id, requiredIfMatch(event));
  // A repeated PUT changes nothing: no write, so no version bump and no event.
  if (isUnchanged(current, input)) return withEtag(200, current);
  const next = replaceCustomer(current, input, new Date());
  await customers.replace(current, next);
  metrics.count(METRICS.customersUpdated);
  return withEtag(200, next);
};

const deleteCustomer = async (event: Event): Promise<Response> => {
  const id = customerIdParameter(event);
  const current = await currentMatching(id, requiredIfMatch(event));
  await customers.delete(current, new Date());
  metrics.count(METRICS.customersDeleted);
  return noContent();
};

/** Every route the infrastructure sends here, and only those: a missing one fails the type check. */
const routes: Readonly<Record<CustomerRouteKey, (event: Event) => Promise<Response>>> = {
  [CUSTOMER_ROUTES.create]: createCustomer,
  [CUSTOMER_ROUTES.get]: getCustomer,
  [CUSTOMER_ROUTES.replace]: putCustomer,
  [CUSTOMER_ROUTES.delete]: deleteCustomer,
};

const isCustomerRoute = (routeKey: string): routeKey is CustomerRouteKey =>
  Object.hasOwn(routes, routeKey);

const answer = async (event: Event): Promise<Response> => {
  const route = isCustomerRoute(event.routeKey) ? routes[event.routeKey] : undefined;
  if (route === undefined) return errorResponse(404, 'not found');
  try {
    return await route(event);
  } catch (error) {
    return toErrorResponse(error, event, logger);
  }
};

export const handler = metrics.publishing(
  async (event: Event, context: Context): Promise<Response> => {
    logger.addContext(context);
    return metrics.answer(answer(event));
  },
);
