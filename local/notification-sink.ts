import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import { closeServer, type LocalCloudState, listenOnLoopback, readBody } from 'cdk-local-cloud';
import * as z from 'zod';

/**
 * A stand-in for the notification provider the welcome consumer POSTs to. It records every
 * call, dedupes by `Idempotency-Key` as a real provider does (yet still records duplicates, so
 * tests can count them), and can be told to fail the next calls so retries can be exercised.
 * Other processes drive it through `/_sink/*`.
 */

export interface SinkCall {
  readonly receivedAt: string;
  readonly method: string;
  readonly path: string;
  readonly bearerToken?: string;
  readonly idempotencyKey?: string;
  /** The JSON body parsed, or the raw text when it is not JSON. */
  readonly body: unknown;
  /** What the sink answered. */
  readonly status: number;
}

export interface RunningSink {
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  readonly url: string;
  calls(): readonly SinkCall[];
  /** The next `count` notification calls answer `status` (default 503) and are not accepted. */
  failNext(count: number, status?: number): void;
  /** Forgets calls, accepted keys and pending failures. */
  reset(): void;
  close(): Promise<void>;
}

export interface NotificationSinkOptions {
  /** @default 0 - a free port the OS picks */
  readonly port?: number;
  readonly onCall?: (call: SinkCall) => void;
}

const CONTROL_PREFIX = '/_sink';
/** Far above a welcome request (a few hundred bytes); a bound so a runaway client cannot fill memory. */
const MAX_BODY_BYTES = 1024 * 1024;

const FailNextRequest = z.strictObject({
  count: z.int().min(0),
  status: z.int().min(400).max(599).optional(),
});

const checkFailNext = (count: number, status: number): void => {
  const checked = FailNextRequest.safeParse({ count, status });
  if (!checked.success)
    throw new RangeError(`failNext(${count}, ${status}): ${checked.error.message}`);
};

const bearerToken = (authorization: string | undefined): string | undefined => {
  const match = /^Bearer\s+(\S.*)$/i.exec(authorization ?? '');
  return match?.[1]?.trim();
};

const parseBody = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

const reply = (response: http.ServerResponse, status: number, body?: unknown): void => {
  if (body === undefined) {
    response.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(body);
  response
    .writeHead(status, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(text)),
    })
    .end(text);
};

export const startNotificationSink = async (
  options: NotificationSinkOptions = {},
): Promise<RunningSink> => {
  let calls: SinkCall[] = [];
  /** Accepted idempotency keys and the id each was given: a duplicate gets the same id back. */
  let accepted = new Map<string, string>();
  let failures = { remaining: 0, status: 503 };

  const failNext = (count: number, status = 503): void => {
    checkFailNext(count, status);
    failures = { remaining: count, status };
  };
  const reset = (): void => {
    calls = [];
    accepted = new Map();
    failures = { remaining: 0, status: 503 };
  };

  const notify = (request: http.IncomingMessage, path: string, text: string) => {
    const token = bearerToken(request.headers.authorization);
    const key = request.headers['idempotency-key'];
    const idempotencyKey = Array.isArray(key) ? key.join(',') : key;
    let status: number;
    let answer: unknown;
    // An injected failure comes first: it stands for the provider being down, whoever calls.
    if (failures.remaining > 0) {
      failures = { ...failures, remaining: failures.remaining - 1 };
      status = failures.status;
      answer = { message: `injected failure (${status})` };
    } else if (token === undefined) {
      status = 401;
      answer = { message: 'missing bearer token' };
    } else {
      const previous = idempotencyKey === undefined ? undefined : accepted.get(idempotencyKey);
      const id = previous ?? randomUUID();
      if (idempotencyKey !== undefined) accepted.set(idempotencyKey, id);
      status = 202;
      answer = { id, duplicate: previous !== undefined };
    }
    const call: SinkCall = {
      receivedAt: new Date().toISOString(),
      method: request.method ?? 'POST',
      path,
      ...(token !== undefined && { bearerToken: token }),
      ...(idempotencyKey !== undefined && { idempotencyKey }),
      body: parseBody(text),
      status,
    };
    calls.push(call);
    try {
      options.onCall?.(call);
    } catch {
      // An observer's failure is not the caller's: the call was still answered.
    }
    return { status, answer };
  };

  const control = (method: string, path: string, text: string) => {
    if (method === 'GET' && path === `${CONTROL_PREFIX}/calls`) {
      return { status: 200, answer: { calls } };
    }
    if (method === 'POST' && path === `${CONTROL_PREFIX}/reset`) {
      reset();
      return { status: 204 };
    }
    if (method === 'POST' && path === `${CONTROL_PREFIX}/fail-next`) {
      const parsed = FailNextRequest.safeParse(parseBody(text));
      if (!parsed.success) return { status: 400, answer: { message: parsed.error.message } };
      failNext(parsed.data.count, parsed.data.status);
      return { status: 204 };
    }
    return { status: 404, answer: { message: `no control route ${method} ${path}` } };
  };

  const server = http.createServer((request, response) => {
    const method = request.method ?? 'GET';
    const path = new URL(request.url ?? '/', 'http://sink').pathname;
    readBody(request, MAX_BODY_BYTES)
      .then((bytes) => {
        const text = bytes.toString('utf8');
        const isControl = path === CONTROL_PREFIX || path.startsWith(`${CONTROL_PREFIX}/`);
        if (isControl) return control(method, path, text);
        if (method === 'POST') return notify(request, path, text);
        return { status: 405, answer: { message: 'the provider takes POST only' } };
      })
      .then(
        ({ status, answer }: { status: number; answer?: unknown }) => {
          if (status === 405) response.setHeader('allow', 'POST');
          reply(response, status, answer);
        },
        () => response.destroy(),
      );
  });

  const url = await listenOnLoopback(server, options.port ?? 0);
  return {
    url,
    calls: () => [...calls],
    failNext,
    reset,
    close: () => closeServer(server),
  };
};

/** The sink's key in the local cloud's state (`sidecars`). */
export const NOTIFICATION_SINK = 'notification-sink';

/** The notification sink of the running local cloud: its base URL from the state file. */
export const sinkUrlOf = (state: Pick<LocalCloudState, 'sidecars'>): string => {
  const url = state.sidecars[NOTIFICATION_SINK];
  if (url === undefined) throw new Error(`the local cloud runs no ${NOTIFICATION_SINK}`);
  return url;
};

/** Every call the running local cloud's sink received so far. */
export const sinkCalls = async (cloud: {
  readonly state: Pick<LocalCloudState, 'sidecars'>;
}): Promise<SinkCall[]> => {
  const response = await fetch(`${sinkUrlOf(cloud.state)}${CONTROL_PREFIX}/calls`);
  if (!response.ok) throw new Error(`GET ${CONTROL_PREFIX}/calls: ${response.status}`);
  return ((await response.json()) as { calls: SinkCall[] }).calls;
};
