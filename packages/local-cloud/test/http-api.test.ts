import * as http from 'node:http';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import {
  type HttpRequestLogEntry,
  MAX_REQUEST_BODY_BYTES,
  type RunningHttpApi,
  startHttpApi,
} from '../src/http-api';
import type { InvokeOutcome, LambdaInvoker } from '../src/model';

const ACCOUNT_ID = '123456789012';
const API_ID = 'localapi01';

/** A fake function: records the events it gets and answers what `respond` says. */
class FakeFunction implements LambdaInvoker {
  readonly events: APIGatewayProxyEventV2[] = [];
  constructor(
    private readonly respond: (event: APIGatewayProxyEventV2) => Promise<InvokeOutcome> = async (
      event,
    ) => ({ ok: true, payload: { statusCode: 200, body: event.routeKey } }),
  ) {}
  async invoke(event: unknown): Promise<InvokeOutcome> {
    const typed = event as APIGatewayProxyEventV2;
    this.events.push(typed);
    return this.respond(typed);
  }
  get lastEvent(): APIGatewayProxyEventV2 {
    const event = this.events.at(-1);
    if (event === undefined) throw new Error('the function was not invoked');
    return event;
  }
}

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A request with exactly these header lines (fetch would merge repeated headers itself). */
const rawRequest = (
  base: string,
  options: { method: string; path: string; headers?: http.OutgoingHttpHeaders; body?: Buffer },
): Promise<RawResponse> =>
  new Promise((resolve, reject) => {
    const request = http.request(
      `${base}${options.path}`,
      { method: options.method, headers: options.headers },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks),
          }),
        );
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });

describe('local HTTP API', () => {
  const create = new FakeFunction();
  const getOne = new FakeFunction();
  const getMe = new FakeFunction();
  const anyFile = new FakeFunction();
  const getFile = new FakeFunction();
  const getFileMeta = new FakeFunction();
  let nextOutcome: () => Promise<InvokeOutcome>;
  const responder = new FakeFunction(() => nextOutcome());
  const entries: HttpRequestLogEntry[] = [];
  let api: RunningHttpApi;

  beforeAll(async () => {
    api = await startHttpApi({
      apiId: API_ID,
      accountId: ACCOUNT_ID,
      region: 'us-east-1',
      routes: [
        { routeKey: 'POST /customers', target: create },
        { routeKey: 'GET /customers/{idOrEmail}', target: getOne },
        { routeKey: 'GET /customers/me', target: getMe },
        { routeKey: 'ANY /files/{proxy+}', target: anyFile },
        { routeKey: 'GET /files/{proxy+}', target: getFile },
        { routeKey: 'GET /files/{name}/meta', target: getFileMeta },
        { routeKey: 'GET /respond', target: responder },
      ],
      onRequest: (entry) => entries.push(entry),
    });
  });

  afterAll(async () => {
    await api.close();
  });

  describe('route matching', () => {
    it('prefers a literal segment to a path parameter in the same position', async () => {
      const me = await fetch(`${api.url}/customers/me`);
      const other = await fetch(`${api.url}/customers/someone`);

      expect(await me.text()).toBe('GET /customers/me');
      expect(await other.text()).toBe('GET /customers/{idOrEmail}');
      expect(getOne.lastEvent.pathParameters).toEqual({ idOrEmail: 'someone' });
    });

    it('prefers a full match to a greedy variable, and an explicit method to ANY', async () => {
      const meta = await fetch(`${api.url}/files/report.pdf/meta`);
      const get = await fetch(`${api.url}/files/2024/report.pdf`);
      const del = await fetch(`${api.url}/files/2024/report.pdf`, { method: 'DELETE' });

      expect(await meta.text()).toBe('GET /files/{name}/meta');
      expect(await get.text()).toBe('GET /files/{proxy+}');
      expect(getFile.lastEvent.pathParameters).toEqual({ proxy: '2024/report.pdf' });
      expect(await del.text()).toBe('ANY /files/{proxy+}');
      expect(anyFile.lastEvent.requestContext.http.method).toBe('DELETE');
    });

    it('answers 404 {"message":"Not Found"} when no route matches path and method', async () => {
      const invoked = create.events.length;
      const unknownPath = await fetch(`${api.url}/orders`);
      const wrongMethod = await fetch(`${api.url}/customers`, { method: 'DELETE' });
      const extraSegment = await fetch(`${api.url}/customers/a/b`);

      for (const response of [unknownPath, wrongMethod, extraSegment]) {
        expect(response.status).toBe(404);
        expect(response.headers.get('content-type')).toBe('application/json');
        expect(await response.json()).toEqual({ message: 'Not Found' });
      }
      expect(create.events).toHaveLength(invoked);
    });

    it('sends what no route matches to the $default route, with routeKey $default', async () => {
      const fallback = new FakeFunction();
      const withDefault = await startHttpApi({
        apiId: API_ID,
        accountId: ACCOUNT_ID,
        region: 'us-east-1',
        routes: [
          { routeKey: 'GET /known', target: new FakeFunction() },
          { routeKey: '$default', target: fallback },
        ],
      });
      try {
        const response = await fetch(`${withDefault.url}/anything/else?x=1`, { method: 'PATCH' });

        expect(response.status).toBe(200);
        expect(fallback.lastEvent).toMatchObject({
          routeKey: '$default',
          rawPath: '/anything/else',
          requestContext: { routeKey: '$default', http: { method: 'PATCH' } },
        });
        expect(fallback.lastEvent).not.toHaveProperty('pathParameters');
      } finally {
        await withDefault.close();
      }
    });

    it('refuses a route key that is neither "METHOD /path" nor $default', async () => {
      await expect(
        startHttpApi({
          apiId: API_ID,
          accountId: ACCOUNT_ID,
          region: 'us-east-1',
          routes: [{ routeKey: 'customers', target: new FakeFunction() }],
        }),
      ).rejects.toThrow('route key customers is not "METHOD /path"');
    });
  });

  describe('the event', () => {
    it('builds the full 2.0 event for a GET with a query string, repeated headers and cookies', async () => {
      const response = await rawRequest(api.url, {
        method: 'GET',
        path: '/customers/ada%40example.com?expand=notes&tag=a&tag=b+c&empty=',
        headers: {
          'X-Probe': ['first', 'second'],
          Cookie: 'session=abc123; theme=dark',
          'User-Agent': 'probe/1.0',
        },
      });

      expect(response.status).toBe(200);
      const event = getOne.lastEvent;
      expect(event).toEqual({
        version: '2.0',
        routeKey: 'GET /customers/{idOrEmail}',
        rawPath: '/customers/ada@example.com',
        rawQueryString: 'expand=notes&tag=a&tag=b+c&empty=',
        cookies: ['session=abc123', 'theme=dark'],
        headers: {
          host: api.url.replace('http://', ''),
          connection: expect.any(String),
          'x-probe': 'first,second',
          'user-agent': 'probe/1.0',
          'x-forwarded-for': '127.0.0.1',
          'x-forwarded-port': api.url.split(':')[2],
          'x-forwarded-proto': 'http',
          'x-amzn-trace-id': expect.stringMatching(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/),
        },
        queryStringParameters: { expand: 'notes', tag: 'a,b c', empty: '' },
        pathParameters: { idOrEmail: 'ada@example.com' },
        requestContext: {
          accountId: ACCOUNT_ID,
          apiId: API_ID,
          domainName: api.url.replace('http://', ''),
          domainPrefix: '127',
          http: {
            method: 'GET',
            path: '/customers/ada@example.com',
            protocol: 'HTTP/1.1',
            sourceIp: '127.0.0.1',
            userAgent: 'probe/1.0',
          },
          requestId: response.headers['apigw-requestid'],
          routeKey: 'GET /customers/{idOrEmail}',
          stage: '$default',
          time: expect.stringMatching(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/),
          timeEpoch: expect.any(Number),
        },
        isBase64Encoded: false,
      });
    });

    it('states the request time twice, as the formatted time and its epoch', async () => {
      await fetch(`${api.url}/customers/someone`);

      const { time, timeEpoch } = getOne.lastEvent.requestContext;
      const at = new Date(timeEpoch);
      const month = at.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
      const [hhmmss] = at.toISOString().slice(11).split('.');
      const day = String(at.getUTCDate()).padStart(2, '0');
      expect(time).toBe(`${day}/${month}/${at.getUTCFullYear()}:${hhmmss} +0000`);
    });

    it('omits cookies, query parameters, path parameters and body when the request has none', async () => {
      nextOutcome = async () => ({ ok: true, payload: { statusCode: 204 } });
      await fetch(`${api.url}/respond`);

      const event = responder.lastEvent;
      expect(event.rawQueryString).toBe('');
      expect(event.isBase64Encoded).toBe(false);
      for (const absent of ['cookies', 'queryStringParameters', 'pathParameters', 'body']) {
        expect(event).not.toHaveProperty(absent);
      }
    });

    it('lower-cases header names', async () => {
      await rawRequest(api.url, {
        method: 'GET',
        path: '/customers/someone',
        headers: { 'If-Match': '"3"', 'X-Mixed-Case': 'yes' },
      });

      const { headers } = getOne.lastEvent;
      expect(headers).toMatchObject({ 'if-match': '"3"', 'x-mixed-case': 'yes' });
      expect(Object.keys(headers).every((name) => name === name.toLowerCase())).toBe(true);
    });

    it('passes a JSON body as UTF-8 text', async () => {
      const body = JSON.stringify({ fullName: 'Zoë Ünal', email: 'zoe@example.com' });
      await fetch(`${api.url}/customers`, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body,
      });

      expect(create.lastEvent).toMatchObject({ body, isBase64Encoded: false });
      expect(create.lastEvent.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    });

    it('passes a binary body base64-encoded', async () => {
      const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff, 0xfe, 0x01]);
      await fetch(`${api.url}/customers`, {
        method: 'POST',
        headers: { 'content-type': 'image/png' },
        body: bytes,
      });

      expect(create.lastEvent).toMatchObject({
        body: bytes.toString('base64'),
        isBase64Encoded: true,
      });
    });

    it('passes a body base64-encoded when its text content type hides bytes that are not UTF-8', async () => {
      const bytes = Buffer.from([0x7b, 0xc3, 0x28, 0x7d]);
      await fetch(`${api.url}/customers`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: bytes,
      });

      expect(create.lastEvent).toMatchObject({
        body: bytes.toString('base64'),
        isBase64Encoded: true,
      });
    });
  });

  describe('the response', () => {
    it('maps a structured result: status, headers, cookies as set-cookie, body', async () => {
      nextOutcome = async () => ({
        ok: true,
        payload: {
          statusCode: 201,
          headers: { Location: '/customers/1', ETag: '"1"', 'X-Count': 3 },
          cookies: ['a=1; Path=/', 'b=2; HttpOnly'],
          body: '{"id":"1"}',
        },
      });

      const response = await fetch(`${api.url}/respond`);

      expect(response.status).toBe(201);
      expect(response.headers.get('location')).toBe('/customers/1');
      expect(response.headers.get('etag')).toBe('"1"');
      expect(response.headers.get('x-count')).toBe('3');
      expect(response.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; HttpOnly']);
      expect(await response.text()).toBe('{"id":"1"}');
    });

    it('decodes a body the function marks isBase64Encoded', async () => {
      const bytes = Buffer.from([0x00, 0x01, 0xfe, 0xff]);
      nextOutcome = async () => ({
        ok: true,
        payload: {
          statusCode: 200,
          headers: { 'content-type': 'application/octet-stream' },
          body: bytes.toString('base64'),
          isBase64Encoded: true,
        },
      });

      const response = await fetch(`${api.url}/respond`);

      expect(Buffer.from(await response.arrayBuffer())).toEqual(bytes);
    });

    it('infers 200 application/json with the string itself as body from a string result', async () => {
      nextOutcome = async () => ({ ok: true, payload: 'Hello from Lambda!' });

      const response = await fetch(`${api.url}/respond`);

      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/json');
      expect(await response.text()).toBe('Hello from Lambda!');
    });

    it('infers 200 application/json with the JSON of an object that has no statusCode', async () => {
      nextOutcome = async () => ({ ok: true, payload: { message: 'Hello', count: 2 } });

      const response = await fetch(`${api.url}/respond`);

      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/json');
      expect(await response.json()).toEqual({ message: 'Hello', count: 2 });
    });

    it.each<[string, () => Promise<InvokeOutcome>]>([
      [
        'the function fails',
        async () => ({ ok: false, error: { errorType: 'Error', errorMessage: 'boom' } }),
      ],
      [
        'the invoker throws',
        async () => {
          throw new Error('no such function');
        },
      ],
      ['the statusCode is not a status', async () => ({ ok: true, payload: { statusCode: 'ok' } })],
      [
        'the body is not a string',
        async () => ({ ok: true, payload: { statusCode: 200, body: { a: 1 } } }),
      ],
    ])('answers 500 {"message":"Internal Server Error"} when %s', async (_, outcome) => {
      nextOutcome = outcome;

      const response = await fetch(`${api.url}/respond`);

      expect(response.status).toBe(500);
      expect(await response.json()).toEqual({ message: 'Internal Server Error' });
    });

    it('gives every response an apigw-requestid header, the event requestId', async () => {
      const found = await fetch(`${api.url}/customers/someone`);
      const notFound = await fetch(`${api.url}/nowhere`);

      expect(found.headers.get('apigw-requestid')).toBe(getOne.lastEvent.requestContext.requestId);
      expect(notFound.headers.get('apigw-requestid')).toMatch(/^[A-Za-z0-9+/]{15}=$/);
      expect(found.headers.get('apigw-requestid')).not.toBe(
        notFound.headers.get('apigw-requestid'),
      );
    });
  });

  describe('onRequest', () => {
    it('reports each request with its route key, status, request id and response body', async () => {
      nextOutcome = async () => ({ ok: true, payload: { statusCode: 418, body: 'teapot' } });
      const matched = await fetch(`${api.url}/respond?x=1`);
      const unmatched = await fetch(`${api.url}/nowhere`, { method: 'POST', body: 'x' });

      const entryFor = (response: Response) =>
        entries.find((entry) => entry.requestId === response.headers.get('apigw-requestid'));
      expect(entryFor(matched)).toEqual({
        method: 'GET',
        routeKey: 'GET /respond',
        path: '/respond',
        status: 418,
        durationMs: expect.any(Number),
        requestId: matched.headers.get('apigw-requestid'),
        responseBody: 'teapot',
      });
      expect(entryFor(unmatched)).toMatchObject({
        method: 'POST',
        routeKey: '-',
        path: '/nowhere',
        status: 404,
        responseBody: '{"message":"Not Found"}',
      });
    });
  });

  describe('payload limit', () => {
    it('refuses a body over 10 MB with 413 and does not invoke the function', async () => {
      const invoked = create.events.length;

      const response = await fetch(`${api.url}/customers`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: Buffer.alloc(MAX_REQUEST_BODY_BYTES + 1, 0x20),
      });

      expect(response.status).toBe(413);
      expect(await response.json()).toEqual({ message: 'Request Entity Too Large' });
      expect(create.events).toHaveLength(invoked);
    });

    it('refuses an oversize body sent without a content-length (chunked) with 413 too', async () => {
      const invoked = create.events.length;
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      const chunks = Array.from({ length: 11 }, () => chunk);

      const response = await fetch(`${api.url}/customers`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: new ReadableStream({
          pull(controller) {
            const next = chunks.pop();
            if (next === undefined) controller.close();
            else controller.enqueue(next);
          },
        }),
        duplex: 'half',
      } as RequestInit);

      expect(response.status).toBe(413);
      expect(create.events).toHaveLength(invoked);
    });

    it('accepts a body of exactly 10 MB', async () => {
      const response = await fetch(`${api.url}/customers`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: Buffer.alloc(MAX_REQUEST_BODY_BYTES, 0x20),
      });

      expect(response.status).toBe(200);
      expect(create.lastEvent.body).toHaveLength(MAX_REQUEST_BODY_BYTES);
    });
  });
});
