import * as http from 'node:http';
import * as https from 'node:https';
import type { CustomerEvent } from '../shared/domain/events';

/** Well below the function timeout (30 s), leaving time for the claim and its completion. */
const SEND_TIMEOUT_MS = 5_000;

/**
 * node:http(s) rather than fetch: the first fetch loads undici and compiles its WebAssembly
 * parser, which the cold start pays for, while the SDK has loaded node:https already.
 * Kept alive so warm invocations reuse the provider's connection; an idle socket is closed
 * after 4 s (undici's default, and Node then also honours a shorter Keep-Alive hint), so
 * one the provider has dropped meanwhile is not written to.
 */
const agentOptions = { keepAlive: true, timeout: 4_000 };
const transports = {
  'http:': { request: http.request, agent: new http.Agent(agentOptions) },
  'https:': { request: https.request, agent: new https.Agent(agentOptions) },
};

export class NotificationFailed extends Error {
  constructor(readonly status: number) {
    super(`the notification provider answered ${status}`);
    this.name = 'NotificationFailed';
  }
}

export class NotificationTimedOut extends Error {
  constructor(readonly timeoutMs: number) {
    super(`the notification provider did not answer within ${timeoutMs} ms`);
    this.name = 'NotificationTimedOut';
  }
}

/** The provider hung up before its answer was whole: whether it sent is unknown. */
export class NotificationInterrupted extends Error {
  constructor() {
    super('the notification provider closed the connection mid-answer');
    this.name = 'NotificationInterrupted';
  }
}

export interface WelcomeNotifierOptions {
  /** @default 5000 - from the request until the answer's body is read */
  readonly timeoutMs?: number;
}

export type SendWelcome = (apiKey: string, event: CustomerEvent) => Promise<void>;

/**
 * Checks the endpoint once and returns the send. The handler calls this at cold start, so
 * an endpoint that is not an http: or https: URL fails the function's init, not a send.
 */
export const welcomeNotifier = (
  endpoint: string,
  { timeoutMs = SEND_TIMEOUT_MS }: WelcomeNotifierOptions = {},
): SendWelcome => {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new Error('the notification endpoint is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`the notification endpoint must be http: or https:, got ${url.protocol}`);
  }
  const { request, agent } = transports[url.protocol];

  /**
   * Asks the provider to send the welcome. The event id is the Idempotency-Key, so a
   * retry after a send whose answer was lost does not send a second message.
   */
  return (apiKey, event) => {
    const { id, email, fullName } = event.customer;
    const body = JSON.stringify({ template: 'welcome', customerId: id, email, fullName });
    return new Promise<void>((resolve, reject) => {
      const req = request(url, {
        method: 'POST',
        agent,
        headers: {
          authorization: `Bearer ${apiKey}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'idempotency-key': event.eventId,
        },
      });
      // The first outcome wins; a promise ignores later ones.
      const settle = (error?: Error): void => {
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(() => {
        const error = new NotificationTimedOut(timeoutMs);
        settle(error);
        req.destroy(error);
      }, timeoutMs);
      req.on('error', settle);
      req.on('response', (res) => {
        // Read the answer to its end, discarding it, so the socket goes back to the pool.
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          settle(status >= 200 && status < 300 ? undefined : new NotificationFailed(status));
        });
        res.on('error', settle);
        res.on('close', () => settle(new NotificationInterrupted()));
        res.resume();
      });
      req.end(body);
    });
  };
};
