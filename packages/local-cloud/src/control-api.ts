import * as http from 'node:http';
import type { AwsProxy, Fault } from './aws-proxy';
import type { LambdaInvoker } from './model';
import { listenOnLoopback, readBody } from './net';

/** One message handed to a function by an SQS poller, and what became of it. */
export interface Delivery {
  readonly mapping: string;
  readonly queue: string;
  readonly messageId: string;
  readonly receiveCount: number;
  readonly outcome: 'succeeded' | 'failed' | 'filtered';
}

export interface ControlApi {
  readonly server: http.Server;
  readonly url: string;
}

/**
 * `POST /invoke/<logical id>` (body: the event) invokes a function;
 * `POST /faults` `{ caller, service, operation?, mode, remaining? }` makes a
 * service misbehave for one function; `DELETE /faults` clears them all;
 * `GET /calls` lists every AWS call the functions made; `GET /deliveries` every
 * message the SQS pollers handed a function, with its receive count and outcome.
 */
export const startControlApi = async (
  hosts: ReadonlyMap<string, LambdaInvoker>,
  proxies: ReadonlyMap<string, AwsProxy>,
  log: { readonly calls: readonly unknown[]; readonly deliveries: readonly Delivery[] },
): Promise<ControlApi> => {
  const send = (response: http.ServerResponse, status: number, body: unknown) => {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  };
  const server = http.createServer((request, response) => {
    void (async () => {
      const url = new URL(request.url ?? '/', 'http://control');
      const body = await readBody(request, 1024 * 1024);
      const json = body.length > 0 ? (JSON.parse(body.toString()) as unknown) : undefined;
      const invoke = /^\/invoke\/([^/]+)$/.exec(url.pathname);
      if (request.method === 'POST' && invoke?.[1]) {
        const host = hosts.get(decodeURIComponent(invoke[1]));
        if (host === undefined) return send(response, 404, { message: 'no such function' });
        return send(response, 200, await host.invoke(json ?? {}));
      }
      if (url.pathname === '/faults' && request.method === 'POST') {
        const { caller, ...fault } = json as Fault & { caller: string };
        const proxy = proxies.get(caller);
        if (proxy === undefined) {
          return send(response, 404, {
            message: `no function ${caller}`,
            functions: [...proxies.keys()],
          });
        }
        proxy.addFault(fault);
        return send(response, 200, { ok: true });
      }
      if (url.pathname === '/faults' && request.method === 'DELETE') {
        for (const proxy of proxies.values()) proxy.clearFaults();
        return send(response, 200, { ok: true });
      }
      if (url.pathname === '/calls' && request.method === 'GET') {
        return send(response, 200, { calls: log.calls });
      }
      if (url.pathname === '/deliveries' && request.method === 'GET') {
        return send(response, 200, { deliveries: log.deliveries });
      }
      send(response, 404, { message: 'not found' });
    })().catch((error: unknown) => send(response, 500, { message: String(error) }));
  });
  return { server, url: await listenOnLoopback(server) };
};
