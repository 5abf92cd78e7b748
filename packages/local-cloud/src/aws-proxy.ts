import * as http from 'node:http';
import {
  type AwsError,
  type CallShape,
  errorFor,
  type Fault,
  FaultInjector,
  type FaultKind,
  type Injection,
  needsBody,
  randomSeed,
  spell,
} from './faults';
import { closeServer, listenOnLoopback, sleep } from './net';

export type { Fault, FaultKind } from './faults';

/**
 * A loopback proxy in front of the emulator, one per local function (its `AWS_ENDPOINT_URL`),
 * so every AWS call is attributed to the function that made it, and faults can be injected
 * into one function's calls only (src/faults.ts). Requests and responses pass through
 * unchanged (the Host header included: SigV4 signs it).
 */

export interface AwsCall {
  readonly caller: string;
  /**
   * The SigV4 signing name (`sns`, `sqs`, `dynamodb`, `s3`, `secretsmanager`); DynamoDB
   * Streams signs as `dynamodb` too, so it is told apart by its target and named
   * `streams.dynamodb`. `unknown` for an unsigned request.
   */
  readonly service: string;
  /** e.g. `PublishBatch`, `TransactWriteItems`, `PutObject`; `Unknown` when it cannot tell. */
  readonly operation: string;
  /**
   * The status of the answer: the emulator's, or an injected error's; 0 when the caller got
   * no answer (a reset before forwarding, or no emulator). After `ResetAfter`, the
   * emulator's: the call was applied, though the caller never heard.
   */
  readonly status: number;
  readonly startedAt: number;
  readonly durationMs: number;
  /** The fault injected into this call, if one was. */
  readonly fault?: FaultKind;
  /** What IAM did not allow of it (`s3:PutObject on arn:aws:s3:::bucket/key`), if anything. */
  readonly denied?: string;
}

/** A call as the proxy received it, for IAM to map to what it authorizes. */
export interface WireCall extends CallShape {
  readonly method: string;
  /** Path and query as received, unparsed: `..` in an S3 key is the key's, not a path step. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** Read for the protocols whose parameters are in the body (JSON, query, S3's POSTs). */
  readonly body: Buffer | undefined;
}

/** IAM's verdict on one call. */
export interface ProxyAuthorization {
  /** What the role did not allow, for the record. */
  readonly denied?: string;
  /** AWS's answer instead of the emulator's (enforced). */
  readonly answer?: AwsError;
  /** Replaces the emulator's answer by this status (S3: a missing key without s3:ListBucket is 403). */
  readonly onAnswer?: (status: number) => AwsError | undefined;
}

export interface ProxyIam {
  /** Whether authorizing this call needs its body (never an object upload's). */
  readsBody(call: CallShape): boolean;
  authorize(call: WireCall): ProxyAuthorization;
}

export interface AwsProxy {
  readonly caller: string;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** What seeds the faults added without a seed of their own. */
  readonly seed: number;
  calls(): readonly AwsCall[];
  addFault(fault: Fault): void;
  clearFaults(): void;
  close(): Promise<void>;
}

export interface AwsProxyOptions {
  readonly caller: string;
  /** The emulator's endpoint, e.g. `http://127.0.0.1:5000`. */
  readonly target: string;
  readonly onCall?: (call: AwsCall) => void;
  /** Seeds the faults that bring none. @default - a random seed (`AwsProxy.seed`) */
  readonly seed?: number;
  /** Faults from the start. @default - none */
  readonly faults?: readonly Fault[];
  /** Evaluates each call against the caller's role. @default - none: every call goes through */
  readonly iam?: ProxyIam;
}

/** The DynamoDB operations that write items: what the bench counts as writes. */
export const DYNAMODB_WRITES = new Set([
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'BatchWriteItem',
  'TransactWriteItems',
]);

const header = (request: http.IncomingMessage, name: string): string | undefined => {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/** The signing name from the credential scope: `AKID/date/region/<service>/aws4_request`. */
const signingName = (request: http.IncomingMessage, query: URLSearchParams): string => {
  const credential =
    /Credential=([^,\s]+)/.exec(header(request, 'authorization') ?? '')?.[1] ??
    query.get('X-Amz-Credential') ??
    '';
  return credential.split('/')[3] ?? 'unknown';
};

const isForm = (request: http.IncomingMessage): boolean =>
  (header(request, 'content-type') ?? '').startsWith('application/x-www-form-urlencoded');

/** Bucket sub-resources, as the operation names spell them after Get/Put/Delete. */
const BUCKET_SUBRESOURCES: Readonly<Record<string, string>> = {
  accelerate: 'BucketAccelerateConfiguration',
  acl: 'BucketAcl',
  analytics: 'BucketAnalyticsConfiguration',
  cors: 'BucketCors',
  encryption: 'BucketEncryption',
  'intelligent-tiering': 'BucketIntelligentTieringConfiguration',
  inventory: 'BucketInventoryConfiguration',
  lifecycle: 'BucketLifecycleConfiguration',
  location: 'BucketLocation',
  logging: 'BucketLogging',
  metrics: 'BucketMetricsConfiguration',
  notification: 'BucketNotificationConfiguration',
  'object-lock': 'ObjectLockConfiguration',
  ownershipControls: 'BucketOwnershipControls',
  policy: 'BucketPolicy',
  policyStatus: 'BucketPolicyStatus',
  publicAccessBlock: 'PublicAccessBlock',
  replication: 'BucketReplication',
  requestPayment: 'BucketRequestPayment',
  tagging: 'BucketTagging',
  versioning: 'BucketVersioning',
  website: 'BucketWebsite',
};

const OBJECT_SUBRESOURCES: Readonly<Record<string, string>> = {
  acl: 'ObjectAcl',
  attributes: 'ObjectAttributes',
  'legal-hold': 'ObjectLegalHold',
  retention: 'ObjectRetention',
  tagging: 'ObjectTagging',
  torrent: 'ObjectTorrent',
};

/** An S3 REST operation from method, path-style path and query. */
const s3Operation = (request: http.IncomingMessage, url: URL): string => {
  const { searchParams: query } = url;
  // SDK v3 names most S3 operations itself, in presigned URLs too.
  const named = query.get('x-id');
  if (named) return named;
  const method = request.method ?? 'GET';
  const [bucket = '', ...key] = url.pathname.replace(/^\//, '').split('/');
  const has = (name: string) => query.has(name);
  if (bucket === '') return method === 'GET' ? 'ListBuckets' : 'Unknown';
  if (key.join('/') === '') {
    const subresource = Object.keys(BUCKET_SUBRESOURCES).find(has);
    const suffix = subresource === undefined ? undefined : BUCKET_SUBRESOURCES[subresource];
    switch (method) {
      case 'GET':
        if (has('versions')) return 'ListObjectVersions';
        if (query.get('list-type') === '2') return 'ListObjectsV2';
        if (has('uploads')) return 'ListMultipartUploads';
        return suffix ? `Get${suffix}` : 'ListObjects';
      case 'PUT':
        return suffix ? `Put${suffix}` : 'CreateBucket';
      case 'DELETE':
        if (suffix === 'BucketLifecycleConfiguration') return 'DeleteBucketLifecycle';
        return suffix ? `Delete${suffix}` : 'DeleteBucket';
      case 'HEAD':
        return 'HeadBucket';
      case 'POST':
        return has('delete') ? 'DeleteObjects' : 'Unknown';
      default:
        return 'Unknown';
    }
  }
  const subresource = Object.keys(OBJECT_SUBRESOURCES).find(has);
  const suffix = subresource === undefined ? undefined : OBJECT_SUBRESOURCES[subresource];
  const copy = header(request, 'x-amz-copy-source') !== undefined;
  switch (method) {
    case 'GET':
      if (has('uploadId')) return 'ListParts';
      return suffix ? `Get${suffix}` : 'GetObject';
    case 'PUT':
      if (has('uploadId') && has('partNumber')) return copy ? 'UploadPartCopy' : 'UploadPart';
      if (suffix) return `Put${suffix}`;
      return copy ? 'CopyObject' : 'PutObject';
    case 'HEAD':
      return 'HeadObject';
    case 'DELETE':
      if (has('uploadId')) return 'AbortMultipartUpload';
      return suffix ? `Delete${suffix}` : 'DeleteObject';
    case 'POST':
      if (has('uploads')) return 'CreateMultipartUpload';
      if (has('uploadId')) return 'CompleteMultipartUpload';
      if (has('restore')) return 'RestoreObject';
      if (has('select')) return 'SelectObjectContent';
      return 'Unknown';
    default:
      return 'Unknown';
  }
};

type Classified = CallShape;

const classify = (request: http.IncomingMessage, form: Buffer | undefined): Classified => {
  const url = new URL(request.url ?? '/', 'http://proxy.invalid');
  const signedAs = signingName(request, url.searchParams);
  const target = header(request, 'x-amz-target');
  if (target !== undefined) {
    const dot = target.lastIndexOf('.');
    const service = target.startsWith('DynamoDBStreams_') ? 'streams.dynamodb' : signedAs;
    return { service, operation: dot < 0 ? 'Unknown' : target.slice(dot + 1), protocol: 'json' };
  }
  if (form !== undefined || url.searchParams.has('Action')) {
    const action =
      new URLSearchParams(form?.toString('utf8') ?? '').get('Action') ??
      url.searchParams.get('Action');
    return { service: signedAs, operation: action ?? 'Unknown', protocol: 'query' };
  }
  if (signedAs === 's3') {
    return { service: 's3', operation: s3Operation(request, url), protocol: 'rest-xml' };
  }
  // A browser-based upload (a presigned POST) to a bucket: its signature is in the form.
  if (
    request.method === 'POST' &&
    (header(request, 'content-type') ?? '').toLowerCase().startsWith('multipart/form-data') &&
    /^\/[^/]+\/?$/.test(url.pathname)
  ) {
    return { service: 's3', operation: 'PostObject', protocol: 'rest-xml' };
  }
  return { service: signedAs, operation: 'Unknown', protocol: 'rest-xml' };
};

/** Connection-level headers are the proxy's own business on each hop, never forwarded back. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'upgrade']);

const responseHeaders = (rawHeaders: readonly string[]): string[] => {
  const headers: string[] = [];
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    const name = rawHeaders[index] ?? '';
    if (!HOP_BY_HOP.has(name.toLowerCase())) headers.push(name, rawHeaders[index + 1] ?? '');
  }
  return headers;
};

const readAll = async (request: http.IncomingMessage): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
};

export const startAwsProxy = async (options: AwsProxyOptions): Promise<AwsProxy> => {
  const { caller, onCall } = options;
  const target = new URL(options.target);
  const agent = new http.Agent({ keepAlive: true });
  const recorded: AwsCall[] = [];
  const faults = new FaultInjector(caller, options.seed ?? randomSeed());
  for (const fault of options.faults ?? []) faults.add(fault);

  const record = (
    classified: Classified,
    status: number,
    startedAt: number,
    fault: FaultKind | undefined,
    denied?: string,
  ) => {
    const call: AwsCall = {
      caller,
      service: classified.service,
      operation: classified.operation,
      status,
      startedAt,
      durationMs: Date.now() - startedAt,
      ...(fault === undefined ? {} : { fault }),
      ...(denied === undefined ? {} : { denied }),
    };
    recorded.push(call);
    onCall?.(call);
  };

  /**
   * Forwards the call to the emulator and streams its answer back; with `loseAnswer`, reads
   * the emulator's whole answer (the call is applied) and resets the connection instead.
   */
  const forward = (
    request: http.IncomingMessage,
    response: http.ServerResponse,
    classified: Classified,
    form: Buffer | undefined,
    startedAt: number,
    fault: FaultKind | undefined,
    authorization: ProxyAuthorization = {},
  ) => {
    const upstream = http.request({
      protocol: target.protocol,
      hostname: target.hostname,
      port: target.port,
      method: request.method,
      path: request.url,
      // Raw headers keep the client's names, order and Host, exactly as signed.
      headers: request.rawHeaders,
      agent,
    });
    let recordedCall = false;
    const finish = (status: number) => {
      if (recordedCall) return;
      recordedCall = true;
      record(classified, status, startedAt, fault, authorization.denied);
    };
    upstream.on('response', (answer) => {
      const status = answer.statusCode ?? 0;
      const replaced = authorization.onAnswer?.(status);
      if (replaced !== undefined && fault !== 'ResetAfter') {
        answer.resume();
        const wire = spell(replaced, classified);
        response.writeHead(wire.status, wire.headers);
        response.end(wire.body, () => finish(wire.status));
        return;
      }
      if (fault === 'ResetAfter') {
        answer.resume();
        answer.on('end', () => {
          finish(status);
          request.socket.destroy();
        });
        answer.on('error', () => request.socket.destroy());
        return;
      }
      response.writeHead(status, answer.statusMessage, responseHeaders(answer.rawHeaders));
      answer.pipe(response);
      answer.on('error', () => response.destroy());
      response.on('finish', () => finish(status));
      response.on('close', () => finish(response.writableFinished ? status : 0));
    });
    upstream.on('error', () => {
      // The emulator is gone: the caller sees what it would see of an unreachable service.
      finish(0);
      request.socket.destroy();
    });
    // The caller gave up (or its socket broke): stop the emulator's side too.
    response.on('close', () => {
      if (!response.writableFinished) upstream.destroy();
    });
    if (form !== undefined) upstream.end(form);
    else request.pipe(upstream);
  };

  /** Answers the call as AWS would if it failed this way; false when the kind is no error. */
  const answerError = async (
    request: http.IncomingMessage,
    response: http.ServerResponse,
    classified: Classified,
    form: Buffer | undefined,
    startedAt: number,
    { kind }: Injection,
  ): Promise<boolean> => {
    // A transaction's cancellation reasons are one per item: its body says how many.
    const body = needsBody(kind, classified) ? (form ?? (await readAll(request))) : form;
    const error = errorFor(kind, classified, body);
    if (error === undefined) return false;
    const wire = spell(error, classified);
    response.writeHead(wire.status, wire.headers);
    response.end(wire.body, () => record(classified, wire.status, startedAt, kind));
    return true;
  };

  const server = http.createServer((request, response) => {
    const startedAt = Date.now();
    void (async () => {
      // A query-protocol call names its operation in the form body, so that body (small,
      // bounded by the services' own limits) is read before the call is classified.
      const form = isForm(request) ? await readAll(request) : undefined;
      const classified = classify(request, form);
      // IAM reads the parameters: JSON and form bodies and S3's DeleteObjects are read whole
      // (then forwarded as read); an object's upload streams through.
      const body =
        form ?? (options.iam?.readsBody(classified) ? await readAll(request) : undefined);
      const authorization = options.iam?.authorize({
        ...classified,
        method: request.method ?? 'GET',
        url: request.url ?? '/',
        headers: Object.fromEntries(
          Object.keys(request.headers).map((name) => [name, header(request, name)]),
        ),
        body,
      });
      if (authorization?.answer !== undefined) {
        const wire = spell(authorization.answer, classified);
        response.writeHead(wire.status, wire.headers);
        response.end(wire.body, () =>
          record(classified, wire.status, startedAt, undefined, authorization.denied),
        );
        return;
      }
      const injection = faults.take(classified);
      const pass = (fault: FaultKind | undefined) =>
        forward(request, response, classified, body, startedAt, fault, authorization);
      if (injection === undefined) return pass(undefined);
      switch (injection.kind) {
        case 'ResetBefore':
          record(classified, 0, startedAt, injection.kind);
          request.socket.destroy();
          return;
        case 'ResetAfter':
          return pass(injection.kind);
        case 'Delay':
          await sleep(injection.delayMs);
          if (request.socket.destroyed) return record(classified, 0, startedAt, injection.kind);
          return pass(injection.kind);
        default:
          if (await answerError(request, response, classified, body, startedAt, injection)) return;
          return pass(undefined);
      }
    })().catch(() => request.socket.destroy());
  });

  const url = await listenOnLoopback(server);
  return {
    caller,
    url,
    seed: faults.seed,
    calls: () => [...recorded],
    addFault: (fault) => faults.add(fault),
    clearFaults: () => faults.clear(),
    close: async () => {
      const closed = closeServer(server);
      // Callers' keep-alive sockets (mid-request or not) would otherwise hold the port.
      server.closeAllConnections();
      await closed;
      agent.destroy();
    },
  };
};
