import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { en } from 'zod/locales';
import type * as z from 'zod/mini';
import { customerIdSchema } from '../domain/customer';
import {
  CustomerNotFound,
  DomainError,
  EmailTaken,
  MalformedHeader,
  PreconditionRequired,
  TemporarilyUnavailable,
  VersionConflict,
} from '../domain/errors';

export type Response = APIGatewayProxyStructuredResultV2;

/** Larger bodies are refused before parsing: a customer is a few hundred bytes. */
export const MAX_BODY_BYTES = 16 * 1024;

/** A client error detected at the HTTP edge, with the status it maps to. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface FieldError {
  readonly field: string;
  readonly message: string;
}

const NO_STORE = { 'cache-control': 'no-store' } as const;

export const json = (
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response => ({
  statusCode,
  headers: { 'content-type': 'application/json', ...NO_STORE, ...headers },
  body: JSON.stringify(body),
});

/** A 302 to `location`, never cached: where it points can change. */
export const redirect = (location: string): Response => ({
  statusCode: 302,
  headers: { location, ...NO_STORE },
});

export const noContent = (): Response => ({ statusCode: 204, headers: { ...NO_STORE } });

export const errorResponse = (
  statusCode: number,
  message: string,
  details: Record<string, unknown> = {},
): Response => json(statusCode, { message, ...details });

/** Header names are case-insensitive; API Gateway lower-cases them, tests and proxies may not. */
export const header = (event: APIGatewayProxyEventV2, name: string): string | undefined => {
  const wanted = name.toLowerCase();
  const found = Object.entries(event.headers ?? {}).find(([key]) => key.toLowerCase() === wanted);
  return found?.[1];
};

/**
 * A path parameter as API Gateway hands it over: already decoded once, so it is used as
 * it is (decoding again would read `ada%2540example.com` as `ada@example.com`).
 */
export const pathParameter = (event: APIGatewayProxyEventV2, name: string): string => {
  const value = event.pathParameters?.[name];
  if (value === undefined || value === '')
    throw new HttpError(400, `missing path parameter ${name}`);
  return value;
};

/** Ids are UUIDs; anything else cannot name a customer, and saying so beats a vague 404. */
export const customerIdParameter = (event: APIGatewayProxyEventV2): string => {
  const result = customerIdSchema.safeParse(pathParameter(event, 'id'));
  if (!result.success) throw new HttpError(400, 'customer id must be a UUID');
  // randomUUID() ids are lower case; an upper-case spelling names the same customer.
  return result.data.toLowerCase();
};

/** The request body parsed as JSON; size is measured in bytes, after base64 decoding. */
export const jsonBody = (event: APIGatewayProxyEventV2): unknown => {
  if (event.body === undefined || event.body === '') {
    throw new HttpError(400, 'request body is required');
  }
  const bytes = Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
  if (bytes.byteLength > MAX_BODY_BYTES) {
    throw new HttpError(413, `request body must not exceed ${MAX_BODY_BYTES} bytes`);
  }
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new HttpError(400, 'request body is not valid JSON');
  }
};

const fieldOf = (path: readonly PropertyKey[]): string => path.map(String).join('.');

/** One entry per problem field; a strict object reports all unknown keys in one issue. */
export const fieldErrors = (error: z.core.$ZodError): FieldError[] =>
  error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({
          field: fieldOf([...issue.path, key]),
          message: 'unknown field',
        }))
      : [{ field: fieldOf(issue.path), message: issue.message }],
  );

/**
 * zod's English messages for the issues a client sees (a schema's own message still wins).
 * zod/mini loads no locale; `z.locales.en` would bundle all of them, this named import only en.
 */
const english = en().localeError;

export const validate = <T extends z.ZodMiniType>(schema: T, value: unknown): z.output<T> => {
  const result = schema.safeParse(value, { error: english });
  if (!result.success) {
    throw new HttpError(422, 'request body is invalid', { errors: fieldErrors(result.error) });
  }
  return result.data;
};

/** The one place a domain error becomes a status code, for every HTTP handler. */
const DOMAIN_STATUS: ReadonlyArray<
  readonly [abstract new (...args: never[]) => DomainError, number]
> = [
  [MalformedHeader, 400],
  [CustomerNotFound, 404],
  [EmailTaken, 409],
  [VersionConflict, 412],
  [PreconditionRequired, 428],
];

/**
 * The response for what a route threw. Server faults are logged as errors; a busy
 * store as a warning (the API's 5xx alarm counts the 503s).
 */
export const toErrorResponse = (
  error: unknown,
  event: APIGatewayProxyEventV2,
  logger: Pick<Logger, 'error' | 'warn'>,
): Response => {
  if (error instanceof HttpError) {
    return errorResponse(error.statusCode, error.message, error.details);
  }
  if (error instanceof TemporarilyUnavailable) {
    logger.warn('store busy; answered 503', {
      routeKey: event.routeKey,
      requestId: event.requestContext.requestId,
      cause: error.cause,
    });
    return json(
      503,
      { message: error.message },
      { 'retry-after': String(error.retryAfterSeconds) },
    );
  }
  if (error instanceof DomainError) {
    const mapped = DOMAIN_STATUS.find(([type]) => error instanceof type);
    if (mapped !== undefined) return errorResponse(mapped[1], error.message);
  }
  // Only server faults get here (AWS failures, corrupt items): bad input is caught above.
  logger.error('unexpected error', {
    routeKey: event.routeKey,
    requestId: event.requestContext.requestId,
    error,
  });
  return errorResponse(500, 'internal error');
};
