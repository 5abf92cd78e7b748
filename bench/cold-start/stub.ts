import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { smallPng } from '../avatar/images';
import { profileImage } from './handlers';

/**
 * A loopback stand-in for every AWS endpoint the handlers call during their first
 * invocation, answering each operation with the smallest valid success, so the
 * measured time is the handler's and not the network's.
 */

export interface StubRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: string;
}

export interface StubResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** Text, or bytes sent as they are (an object's content). */
  readonly body: string | Buffer;
}

/**
 * `service:Operation` for a request: JSON protocols name it in X-Amz-Target, SNS's
 * query protocol in the form body, S3 in the method and query (path-style, as the
 * SDK addresses an IP endpoint); the welcome provider is `notify:POST`.
 */
export const operationOf = (request: StubRequest): string => {
  const target = request.headers['x-amz-target'];
  if (target !== undefined) {
    const [prefix = '', operation = ''] = target.split('.');
    if (prefix.startsWith('DynamoDB_')) return `dynamodb:${operation}`;
    if (prefix === 'secretsmanager') return `secretsmanager:${operation}`;
    return `unknown:${target}`;
  }
  if (request.path === '/notify') return `notify:${request.method}`;
  if ((request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
    const action = new URLSearchParams(request.body).get('Action');
    return `sns:${action ?? 'unknown'}`;
  }
  switch (request.method) {
    case 'HEAD':
      return 's3:HeadObject';
    case 'GET':
      return request.query.has('versions') ? 's3:ListObjectVersions' : 's3:GetObject';
    case 'PUT':
      return 's3:PutObject';
    case 'DELETE':
      return 's3:DeleteObject';
    default:
      return `unknown:${request.method} ${request.path}`;
  }
};

const xml = (body: string): StubResponse => ({
  status: 200,
  headers: { 'content-type': 'text/xml', 'x-amzn-requestid': randomUUID() },
  body: `<?xml version="1.0" encoding="UTF-8"?>\n${body}`,
});

const awsJson = (version: '1.0' | '1.1', body: unknown): StubResponse => ({
  status: 200,
  headers: {
    'content-type': `application/x-amz-json-${version}`,
    'x-amzn-requestid': randomUUID(),
  },
  body: JSON.stringify(body),
});

/** The ids of a PublishBatch request's entries, each confirmed as published. */
const publishBatchIds = (body: string): string[] => {
  const form = new URLSearchParams(body);
  return [...form.entries()]
    .filter(([key]) => /^PublishBatchRequestEntries\.member\.\d+\.Id$/.test(key))
    .map(([, value]) => value);
};

const escapeXml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const isProfileKey = (body: string): boolean =>
  (JSON.parse(body) as { Key?: { sk?: { S?: string } } }).Key?.sk?.S === 'PROFILE';

/** A BatchGetItem's answer: of the keys asked for, the profiles, by table. */
const profilesRequested = (body: string): Record<string, unknown[]> => {
  const { RequestItems = {} } = JSON.parse(body) as {
    RequestItems?: Record<string, { Keys?: { pk?: { S?: string }; sk?: { S?: string } }[] }>;
  };
  return Object.fromEntries(
    Object.entries(RequestItems).map(([table, { Keys = [] }]) => [
      table,
      Keys.filter((key) => key.sk?.S === 'PROFILE'),
    ]),
  );
};

/**
 * An upload's content, as S3 serves a GetObject: a ranged read (the avatar function reads the
 * first 64 KiB, then the rest only for a larger object) gets 206 with the object's total size
 * in Content-Range, a read of the whole 200.
 */
export const objectResponse = (
  content: Buffer,
  contentType: string,
  range: string | undefined,
): StubResponse => {
  const headers = {
    'content-type': contentType,
    etag: '"fedcba9876543210fedcba9876543210"',
    'x-amz-version-id': 'bench-upload-v1',
    'accept-ranges': 'bytes',
  };
  const asked = range?.match(/^bytes=(\d+)-(\d*)$/);
  if (asked === null || asked === undefined) return { status: 200, headers, body: content };
  const start = Number(asked[1]);
  const end = Math.min(content.length - 1, asked[2] === '' ? Infinity : Number(asked[2]));
  if (start > end) {
    return { status: 416, headers: { 'content-range': `bytes */${content.length}` }, body: '' };
  }
  return {
    status: 206,
    headers: { ...headers, 'content-range': `bytes ${start}-${end}/${content.length}` },
    body: content.subarray(start, end + 1),
  };
};

/** The success answer to `operation`, or a 501 naming what the stub does not know. */
export const responseFor = (operation: string, request: StubRequest): StubResponse => {
  switch (operation) {
    case 'dynamodb:TransactWriteItems':
    case 'dynamodb:UpdateItem':
    case 'dynamodb:PutItem':
      return awsJson('1.0', {});
    case 'dynamodb:GetItem':
      // A profile exists (the avatar upload route checks); nothing else does.
      return awsJson('1.0', isProfileKey(request.body) ? { Item: profileImage } : {});
    case 'dynamodb:BatchGetItem':
      // Marketing reads its consent record and the profile: only the profile exists.
      return awsJson('1.0', { Responses: profilesRequested(request.body), UnprocessedKeys: {} });
    case 'secretsmanager:GetSecretValue':
      return awsJson('1.1', {
        ARN: JSON.parse(request.body).SecretId,
        Name: 'NotificationApiKey',
        SecretString: 'bench-provider-key',
        VersionId: '00000000-0000-0000-0000-000000000001',
        VersionStages: ['AWSCURRENT'],
        CreatedDate: 1736935200,
      });
    case 'sns:PublishBatch': {
      const members = publishBatchIds(request.body)
        .map(
          (id) =>
            `<member><Id>${escapeXml(id)}</Id><MessageId>${randomUUID()}</MessageId></member>`,
        )
        .join('');
      return xml(
        `<PublishBatchResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishBatchResult><Successful>${members}</Successful><Failed/></PublishBatchResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></PublishBatchResponse>`,
      );
    }
    case 's3:HeadObject':
      return { status: 404, headers: { 'x-amz-request-id': 'bench' }, body: '' };
    case 's3:GetObject':
      // The only object the handlers read is the avatar upload: a real PNG.
      return objectResponse(smallPng(), 'image/png', request.headers.range);
    case 's3:DeleteObject':
      return { status: 204, headers: { 'x-amz-request-id': 'bench' }, body: '' };
    case 's3:PutObject':
      return {
        status: 200,
        headers: { etag: '"0123456789abcdef0123456789abcdef"', 'x-amz-version-id': 'bench-v1' },
        body: '',
      };
    case 'notify:POST':
      return { status: 202, headers: { 'content-type': 'application/json' }, body: '{}' };
    default:
      return {
        status: 501,
        headers: { 'content-type': 'text/plain' },
        body: `the cold-start stub does not answer ${operation}`,
      };
  }
};

export interface Stub {
  readonly url: string;
  /** The operations seen since the last call, in arrival order. */
  takeOperations(): string[];
  close(): Promise<void>;
}

/** Starts the stub on a free port of 127.0.0.1. */
export const startStub = async (): Promise<Stub> => {
  let operations: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const request: StubRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers: Object.fromEntries(
          Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]),
        ),
        body: Buffer.concat(chunks).toString('utf8'),
      };
      const operation = operationOf(request);
      operations.push(operation);
      const response = responseFor(operation, request);
      res.writeHead(response.status, {
        ...response.headers,
        'content-length': Buffer.byteLength(response.body),
      });
      res.end(request.method === 'HEAD' ? undefined : response.body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    takeOperations: () => {
      const taken = operations;
      operations = [];
      return taken;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
};
