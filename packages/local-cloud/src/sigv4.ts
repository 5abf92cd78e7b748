import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';

/**
 * SigV4 for the local HTTP API's `AWS_IAM` routes, as API Gateway checks it: the request's
 * own signature recomputed with the secret of the access key it names (service
 * `execute-api`), over the headers it says it signed. The signer is the SDK's own.
 */

export interface ApiCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** The credentials the API accepts, and clients sign with: the environment's, or the emulator's `test`/`test`. */
export const apiCredentials = (
  env: Readonly<Record<string, string | undefined>> = process.env,
): ApiCredentials => ({
  accessKeyId: env.AWS_ACCESS_KEY_ID || 'test',
  secretAccessKey: env.AWS_SECRET_ACCESS_KEY || 'test',
});

type SourceData = string | ArrayBuffer | ArrayBufferView;

const bytes = (data: SourceData): string | Uint8Array =>
  typeof data === 'string'
    ? data
    : data instanceof ArrayBuffer
      ? new Uint8Array(data)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);

/** SHA-256 (HMAC with a secret) as the SDK's signer takes it. */
class Sha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

const signer = (credentials: ApiCredentials, region: string) =>
  // No x-amz-content-sha256 of its own: execute-api clients (curl, botocore) do not send one.
  new SignatureV4({
    credentials,
    region,
    service: 'execute-api',
    sha256: Sha256,
    applyChecksum: false,
  });

export interface ApiRequest {
  readonly method: string;
  /** `http://127.0.0.1:<port>/path?query`, the path as sent (percent-encoded). */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

const toHttpRequest = (request: ApiRequest, headers: Record<string, string>) => {
  const url = new URL(request.url);
  const query: Record<string, string | string[]> = {};
  for (const [key, value] of url.searchParams) {
    const previous = query[key];
    query[key] = previous === undefined ? value : [previous, value].flat();
  }
  return {
    method: request.method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port === '' ? undefined : Number(url.port),
    path: url.pathname,
    query,
    headers,
    body: request.body,
  };
};

/** The request's headers with its SigV4 headers added (`authorization`, `x-amz-date`). */
export const signApiRequest = async (
  credentials: ApiCredentials,
  region: string,
  request: ApiRequest,
): Promise<Record<string, string>> => {
  const host = new URL(request.url).host;
  const signed = await signer(credentials, region).sign(
    toHttpRequest(request, { ...request.headers, host }),
  );
  const { host: _host, ...headers } = signed.headers as Record<string, string>;
  return headers;
};

/** `AWS4-HMAC-SHA256 Credential=AKID/20261201/us-east-1/execute-api/aws4_request, SignedHeaders=…, Signature=…` */
const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/;

/** `20261201T120000Z` → a Date. */
const amzDate = (value: string | undefined): Date | undefined => {
  const parts = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value ?? '');
  if (parts === null) return undefined;
  const [, y, mo, d, h, mi, s] = parts.map(Number) as number[];
  return new Date(Date.UTC(y ?? 0, (mo ?? 1) - 1, d, h, mi, s));
};

/**
 * Whether `request` carries a valid SigV4 signature by `credentials` for `region`: signed
 * with that access key's secret, for `execute-api`, over the headers it names. (API Gateway
 * also asks IAM whether the caller may `execute-api:Invoke` the route; locally the holder
 * of the credentials may.)
 */
export const verifyApiRequest = async (
  credentials: ApiCredentials,
  region: string,
  request: ApiRequest,
): Promise<boolean> => {
  const lower = Object.fromEntries(
    Object.entries(request.headers).map(([name, value]) => [name.toLowerCase(), value]),
  );
  const parsed = AUTHORIZATION.exec(lower.authorization ?? '');
  if (parsed === null) return false;
  const [, accessKeyId, , signedRegion, service, signedHeaders = '', signature = ''] = parsed;
  if (
    accessKeyId !== credentials.accessKeyId ||
    service !== 'execute-api' ||
    signedRegion !== region
  ) {
    return false;
  }
  const signingDate = amzDate(lower['x-amz-date']);
  if (signingDate === undefined) return false;
  // The signer takes a payload hash in x-amz-content-sha256 as given: it must be the body's.
  const payloadHash = lower['x-amz-content-sha256'];
  if (
    payloadHash !== undefined &&
    payloadHash !==
      createHash('sha256')
        .update(request.body ?? '')
        .digest('hex')
  ) {
    return false;
  }
  const headers: Record<string, string> = {};
  for (const name of signedHeaders.split(';')) {
    const value = lower[name];
    if (value === undefined) return false;
    headers[name] = value;
  }
  const expected = await signer(credentials, region).sign(toHttpRequest(request, headers), {
    signingDate,
  });
  const recomputed = /Signature=([0-9a-f]{64})/.exec(
    String((expected.headers as Record<string, string>).authorization ?? ''),
  )?.[1];
  return (
    recomputed !== undefined &&
    timingSafeEqual(Buffer.from(recomputed, 'hex'), Buffer.from(signature, 'hex'))
  );
};
