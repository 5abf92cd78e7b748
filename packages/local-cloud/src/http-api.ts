import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { InvokeOutcome, LambdaInvoker } from './model';
import { closeServer, listenOnLoopback } from './net';

/**
 * A local stand-in for an API Gateway HTTP API (`$default` stage, Lambda proxy
 * integrations with payload format 2.0). It follows the documented format
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html,
 * .../http-api-develop-routes.html); where the documentation is silent it follows what
 * live HTTP APIs were seen to do, and each such place says so.
 */

export interface HttpRoute {
  /** `POST /customers`, `GET /customers/{idOrEmail}`, `ANY /{proxy+}` or `$default`. */
  readonly routeKey: string;
  readonly target: LambdaInvoker;
}

export interface HttpRequestLogEntry {
  method: string;
  /** The matched route key; `-` when no route matched, as API Gateway's `$context.routeKey`. */
  routeKey: string;
  path: string;
  status: number;
  durationMs: number;
  requestId: string;
  responseBody: string;
}

export interface HttpApiOptions {
  readonly routes: readonly HttpRoute[];
  readonly apiId: string;
  readonly accountId: string;
  readonly region: string;
  /** @default 0 - a free port the OS picks */
  readonly port?: number;
  /** Called once after each request is answered; what it throws is ignored. */
  readonly onRequest?: (entry: HttpRequestLogEntry) => void;
  /**
   * Decides whether the matched route may be called (its IAM authorization); a request it
   * refuses gets API Gateway's 403 `{"message":"Forbidden"}`. @default - every request may
   */
  readonly authorize?: (
    routeKey: string,
    request: {
      readonly method: string;
      readonly url: string;
      readonly headers: Readonly<Record<string, string>>;
      readonly body: string;
    },
  ) => Promise<boolean>;
}

export interface RunningHttpApi {
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  readonly url: string;
  close(): Promise<void>;
}

/** API Gateway's payload limit for HTTP APIs. */
export const MAX_REQUEST_BODY_BYTES = 10 * 1024 * 1024;

const DEFAULT_ROUTE_KEY = '$default';
const NO_ROUTE_KEY = '-';

// ---- routes ---------------------------------------------------------------------------------

type Segment =
  | { readonly kind: 'literal'; readonly value: string }
  | { readonly kind: 'param'; readonly name: string }
  | { readonly kind: 'greedy'; readonly name: string };

interface CompiledRoute {
  readonly routeKey: string;
  readonly method: string;
  readonly segments: readonly Segment[];
  readonly target: LambdaInvoker;
}

const SEGMENT_RANK: Record<Segment['kind'], number> = { literal: 0, param: 1, greedy: 2 };

const compileRoute = (route: HttpRoute): CompiledRoute => {
  const match = /^([A-Z]+) (\/\S*)$/.exec(route.routeKey);
  if (match === null) throw new Error(`route key ${route.routeKey} is not "METHOD /path"`);
  const [, method = '', path = ''] = match;
  const parts = path.slice(1).split('/');
  const segments = parts.map((part, index): Segment => {
    const variable = /^\{([A-Za-z0-9_.-]+)(\+?)\}$/.exec(part);
    if (variable === null) return { kind: 'literal', value: part };
    const [, name = '', greedy] = variable;
    if (greedy === '' || greedy === undefined) return { kind: 'param', name };
    if (index !== parts.length - 1) {
      throw new Error(`route key ${route.routeKey}: a greedy variable must end the path`);
    }
    return { kind: 'greedy', name };
  });
  return { routeKey: route.routeKey, method, segments, target: route.target };
};

/** A path segment decoded once; a malformed escape is left as it came. */
const decodeSegment = (segment: string): string => {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
};

/** The route's path parameters when `rawSegments` fit its template. */
const matchSegments = (
  segments: readonly Segment[],
  rawSegments: readonly string[],
): Record<string, string> | undefined => {
  const parameters: Record<string, string> = {};
  for (const [index, segment] of segments.entries()) {
    const raw = rawSegments[index];
    if (raw === undefined) return undefined;
    if (segment.kind === 'greedy') {
      const rest = rawSegments.slice(index).map(decodeSegment).join('/');
      if (rest === '') return undefined;
      parameters[segment.name] = rest;
      return parameters;
    }
    // Segments are split before decoding, so an encoded `/` (%2F) stays inside its segment.
    const value = decodeSegment(raw);
    if (segment.kind === 'literal') {
      if (value !== segment.value) return undefined;
    } else {
      if (value === '') return undefined;
      parameters[segment.name] = value;
    }
  }
  return segments.length === rawSegments.length ? parameters : undefined;
};

/**
 * Orders candidate routes by API Gateway's priority: a full match before one through a
 * greedy variable; then literal segments before variables, left to right; then an explicit
 * method before `ANY` ("ANY matches all methods that you haven't defined for a resource").
 */
const compareSpecificity = (a: CompiledRoute, b: CompiledRoute): number => {
  const greedy = (route: CompiledRoute): number =>
    route.segments.some((segment) => segment.kind === 'greedy') ? 1 : 0;
  const byGreedy = greedy(a) - greedy(b);
  if (byGreedy !== 0) return byGreedy;
  const rank = (segment: Segment | undefined): number =>
    segment === undefined ? -1 : SEGMENT_RANK[segment.kind];
  const length = Math.max(a.segments.length, b.segments.length);
  for (let index = 0; index < length; index++) {
    const byRank = rank(a.segments[index]) - rank(b.segments[index]);
    if (byRank !== 0) return byRank;
  }
  return (a.method === 'ANY' ? 1 : 0) - (b.method === 'ANY' ? 1 : 0);
};

interface RouteMatch {
  readonly routeKey: string;
  readonly target: LambdaInvoker;
  readonly pathParameters?: Record<string, string>;
}

const routerFor = (
  routes: readonly HttpRoute[],
): ((method: string, rawPath: string) => RouteMatch | undefined) => {
  const fallback = routes.find((route) => route.routeKey === DEFAULT_ROUTE_KEY);
  const compiled = routes
    .filter((route) => route.routeKey !== DEFAULT_ROUTE_KEY)
    .map(compileRoute)
    .sort(compareSpecificity);
  return (method, rawPath) => {
    const rawSegments = rawPath.slice(1).split('/');
    for (const route of compiled) {
      if (route.method !== method && route.method !== 'ANY') continue;
      const parameters = matchSegments(route.segments, rawSegments);
      if (parameters === undefined) continue;
      return Object.keys(parameters).length === 0
        ? { routeKey: route.routeKey, target: route.target }
        : { routeKey: route.routeKey, target: route.target, pathParameters: parameters };
    }
    return fallback && { routeKey: DEFAULT_ROUTE_KEY, target: fallback.target };
  };
};

// ---- the event ------------------------------------------------------------------------------

/** Each request header's values as sent, under its lower-cased name, in order. */
const headerValues = (rawHeaders: readonly string[]): Map<string, string[]> => {
  const headers = new Map<string, string[]>();
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    const name = (rawHeaders[index] ?? '').toLowerCase();
    const value = rawHeaders[index + 1] ?? '';
    headers.set(name, [...(headers.get(name) ?? []), value]);
  }
  return headers;
};

/** Query parameters decoded (`+` is a space), repeated names joined with commas. */
const queryParameters = (rawQueryString: string): Record<string, string> | undefined => {
  if (rawQueryString === '') return undefined;
  const parameters: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    parameters[name] = parameters[name] === undefined ? value : `${parameters[name]},${value}`;
  }
  return Object.keys(parameters).length === 0 ? undefined : parameters;
};

// The types a Lambda function URL passes as text; HTTP APIs behave the same way (they have
// no binaryMediaTypes setting), and anything else reaches the function base64-encoded.
const TEXT_MEDIA_TYPE =
  /^(text\/[^;]+|application\/(json|javascript|xml|x-www-form-urlencoded|[^;]+\+(json|xml)))$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

const encodeBody = (
  body: Buffer,
  contentType: string | undefined,
): { body?: string; isBase64Encoded: boolean } => {
  if (body.length === 0) return { isBase64Encoded: false };
  const mediaType = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (TEXT_MEDIA_TYPE.test(mediaType)) {
    try {
      return { body: utf8.decode(body), isBase64Encoded: false };
    } catch {
      // Not UTF-8 after all: it travels as binary.
    }
  }
  return { body: body.toString('base64'), isBase64Encoded: true };
};

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (value: number): string => String(value).padStart(2, '0');

/** `12/Mar/2020:19:03:58 +0000`, the format of `requestContext.time`. */
export const requestTime = (date: Date): string =>
  `${two(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:` +
  `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`;

/** Shaped like API Gateway's ids (`ATfSmjLgPHcESJw=`): 11 random bytes, base64. */
const newRequestId = (): string => randomBytes(11).toString('base64');

const newTraceId = (now: Date): string =>
  `Root=1-${Math.floor(now.getTime() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;

interface IncomingDetails {
  readonly request: http.IncomingMessage;
  readonly body: Buffer;
  readonly match: RouteMatch;
  readonly rawPath: string;
  readonly rawQueryString: string;
  readonly requestId: string;
  readonly receivedAt: Date;
  readonly localPort: number;
  readonly accountId: string;
  readonly apiId: string;
}

const buildEvent = (details: IncomingDetails): APIGatewayProxyEventV2 => {
  const { request, match, receivedAt } = details;
  const values = headerValues(request.rawHeaders);
  // Format 2.0 moves the cookies out of the headers into `cookies`, one entry per cookie.
  const cookies = (values.get('cookie') ?? [])
    .flatMap((header) => header.split(';'))
    .map((cookie) => cookie.trim())
    .filter((cookie) => cookie !== '');
  values.delete('cookie');
  // Repeated headers are joined with a bare comma, as live HTTP APIs deliver them.
  const headers = new Map([...values].map(([name, list]) => [name, list.join(',')]));
  const sourceIp = (request.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
  // What API Gateway adds on its way to the integration.
  const forwardedFor = headers.get('x-forwarded-for');
  headers.set('x-forwarded-for', forwardedFor ? `${forwardedFor}, ${sourceIp}` : sourceIp);
  headers.set('x-forwarded-port', String(details.localPort));
  headers.set('x-forwarded-proto', 'http');
  if (!headers.has('x-amzn-trace-id')) headers.set('x-amzn-trace-id', newTraceId(receivedAt));

  const domainName = headers.get('host') ?? `127.0.0.1:${details.localPort}`;
  // API Gateway passes the path, and so the path parameters, percent-decoded ("API Gateway
  // decodes URL-encoded request parameters before passing them to your backend integration",
  // http-api-develop-routes.html; live captures agree: `/a%20b` arrives as `/a b`). The query
  // string stays raw in `rawQueryString`, decoded in `queryStringParameters`.
  const path = details.rawPath.split('/').map(decodeSegment).join('/');
  const queryStringParameters = queryParameters(details.rawQueryString);
  const { body, isBase64Encoded } = encodeBody(details.body, headers.get('content-type'));

  return {
    version: '2.0',
    routeKey: match.routeKey,
    rawPath: path,
    rawQueryString: details.rawQueryString,
    ...(cookies.length > 0 && { cookies }),
    headers: Object.fromEntries(headers),
    ...(queryStringParameters && { queryStringParameters }),
    ...(match.pathParameters && { pathParameters: match.pathParameters }),
    requestContext: {
      accountId: details.accountId,
      apiId: details.apiId,
      domainName,
      domainPrefix: domainName.split(':')[0]?.split('.')[0] ?? domainName,
      http: {
        method: request.method ?? 'GET',
        path,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp,
        userAgent: headers.get('user-agent') ?? '',
      },
      requestId: details.requestId,
      routeKey: match.routeKey,
      stage: '$default',
      time: requestTime(receivedAt),
      timeEpoch: receivedAt.getTime(),
    },
    ...(body !== undefined && { body }),
    isBase64Encoded,
  };
};

// ---- the response ---------------------------------------------------------------------------

interface HttpResult {
  readonly status: number;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer;
}

const message = (status: number, text: string): HttpResult => ({
  status,
  headers: [['content-type', 'application/json']],
  body: Buffer.from(JSON.stringify({ message: text })),
});

const NOT_FOUND = message(404, 'Not Found');
const TOO_LARGE = message(413, 'Request Entity Too Large');
const INTERNAL_ERROR = message(500, 'Internal Server Error');
const FORBIDDEN = message(403, 'Forbidden');

/** Headers this server computes itself; a function's own values would contradict the body. */
const HOP_BY_HOP = new Set(['content-length', 'transfer-encoding', 'connection']);

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Maps a function's result as format 2.0 does: an object with `statusCode` is the response
 * (`headers`, `cookies` as `set-cookie`, `body`, base64-decoded when `isBase64Encoded`);
 * anything else is a 200 `application/json` whose body is the string itself, or the JSON of
 * any other value. A malformed response is a 500, as API Gateway answers it.
 * (Format 2.0 has no `multiValueHeaders`: the documented response omits it, so it is ignored.)
 */
export const mapResult = (payload: unknown): HttpResult => {
  if (!isRecord(payload) || !('statusCode' in payload)) {
    const body = typeof payload === 'string' ? payload : JSON.stringify(payload ?? null);
    return {
      status: 200,
      headers: [['content-type', 'application/json']],
      body: Buffer.from(body),
    };
  }
  const { statusCode, headers = {}, cookies = [], body, isBase64Encoded } = payload;
  if (typeof statusCode !== 'number' || !Number.isInteger(statusCode)) return INTERNAL_ERROR;
  if (statusCode < 100 || statusCode > 599) return INTERNAL_ERROR;
  if (!isRecord(headers) || !Array.isArray(cookies)) return INTERNAL_ERROR;
  if (body !== undefined && body !== null && typeof body !== 'string') return INTERNAL_ERROR;

  const out: [string, string][] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || value === null || HOP_BY_HOP.has(name.toLowerCase())) continue;
    if (typeof value === 'object') return INTERNAL_ERROR;
    out.push([name.toLowerCase(), String(value)]);
  }
  for (const cookie of cookies) {
    if (typeof cookie !== 'string') return INTERNAL_ERROR;
    out.push(['set-cookie', cookie]);
  }
  const text = body ?? '';
  return {
    status: statusCode,
    headers: out,
    body: isBase64Encoded === true ? Buffer.from(text, 'base64') : Buffer.from(text),
  };
};

// ---- the server -----------------------------------------------------------------------------

/**
 * Reads the body, or answers `undefined` when it exceeds `limit`. The rest of an oversize body
 * is read and dropped rather than the request destroyed (which `readBody` does when it
 * throws), so the client gets its 413 instead of a reset connection.
 */
const readLimitedBody = (
  request: http.IncomingMessage,
  limit: number,
): Promise<Buffer | undefined> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let tooLarge = Number(request.headers['content-length'] ?? 0) > limit;
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) tooLarge = true;
      if (!tooLarge) chunks.push(chunk);
    });
    request.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks)));
    request.on('error', reject);
  });

const send = (response: http.ServerResponse, requestId: string, result: HttpResult): void => {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of result.headers) {
    const previous = headers[name];
    if (previous === undefined) headers[name] = value;
    else headers[name] = [...(Array.isArray(previous) ? previous : [previous]), value];
  }
  headers['apigw-requestid'] = requestId;
  headers['content-length'] = String(result.body.length);
  response.writeHead(result.status, headers);
  response.end(result.body);
};

export const startHttpApi = async (options: HttpApiOptions): Promise<RunningHttpApi> => {
  const route = routerFor(options.routes);
  let localPort = 0;

  const answer = async (
    request: http.IncomingMessage,
    requestId: string,
    receivedAt: Date,
  ): Promise<{ routeKey: string; path: string; result: HttpResult }> => {
    const target = request.url ?? '/';
    const queryAt = target.indexOf('?');
    const rawPath = queryAt === -1 ? target : target.slice(0, queryAt);
    const rawQueryString = queryAt === -1 ? '' : target.slice(queryAt + 1);
    const match = route(request.method ?? 'GET', rawPath);
    const routeKey = match?.routeKey ?? NO_ROUTE_KEY;
    const body = await readLimitedBody(request, MAX_REQUEST_BODY_BYTES);
    if (body === undefined) return { routeKey, path: rawPath, result: TOO_LARGE };
    if (match === undefined) return { routeKey, path: rawPath, result: NOT_FOUND };
    if (options.authorize !== undefined) {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(request.headers)) {
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
      }
      const allowed = await options.authorize(match.routeKey, {
        method: request.method ?? 'GET',
        url: `http://${request.headers.host ?? `127.0.0.1:${localPort}`}${target}`,
        headers,
        body: body.toString('utf8'),
      });
      if (!allowed) return { routeKey, path: rawPath, result: FORBIDDEN };
    }
    const event = buildEvent({
      request,
      body,
      match,
      rawPath,
      rawQueryString,
      requestId,
      receivedAt,
      localPort,
      accountId: options.accountId,
      apiId: options.apiId,
    });
    const outcome = await match.target.invoke(event).catch(
      (): InvokeOutcome => ({
        ok: false,
        error: { errorType: 'InvokerFailed', errorMessage: 'the invoker threw' },
      }),
    );
    return {
      routeKey,
      path: rawPath,
      result: outcome.ok ? mapResult(outcome.payload) : INTERNAL_ERROR,
    };
  };

  const server = http.createServer((request, response) => {
    const started = performance.now();
    const receivedAt = new Date();
    const requestId = newRequestId();
    void answer(request, requestId, receivedAt)
      .catch(() => ({ routeKey: NO_ROUTE_KEY, path: request.url ?? '/', result: INTERNAL_ERROR }))
      .then(({ routeKey, path, result }) => {
        let sent = result;
        try {
          send(response, requestId, result);
        } catch {
          // A header the function returned that HTTP cannot carry: API Gateway answers 500.
          sent = INTERNAL_ERROR;
          if (!response.headersSent) send(response, requestId, INTERNAL_ERROR);
          else response.destroy();
        }
        try {
          options.onRequest?.({
            method: request.method ?? 'GET',
            routeKey,
            path,
            status: sent.status,
            durationMs: performance.now() - started,
            requestId,
            responseBody: sent.body.toString('utf8'),
          });
        } catch {
          // A failing observer must not take the API down with it.
        }
      });
  });

  const url = await listenOnLoopback(server, options.port ?? 0);
  localPort = Number(new URL(url).port);
  return { url, close: () => closeServer(server) };
};
