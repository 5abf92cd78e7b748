import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A stand-in for the notification provider on a free port of 127.0.0.1, so the welcome
 * consumer's real HTTP client is exercised without leaving the machine.
 */

export interface ProviderRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  /** The connection it came on: the same one for requests on a reused connection. */
  readonly socket: Socket;
  /** Settles when that connection closes. */
  readonly connectionClosed: Promise<void>;
}

/** How the provider treats a request: it may answer, hang up, or never answer. */
export type Respond = (request: ProviderRequest, response: http.ServerResponse) => void;

export const answer =
  (status: number, body = ''): Respond =>
  (_request, response) => {
    response.writeHead(status, { 'content-length': Buffer.byteLength(body) }).end(body);
  };

export interface FakeProvider {
  /** `http://127.0.0.1:<port>/v1/messages` */
  readonly url: string;
  /** Every request received, in arrival order. */
  readonly requests: ProviderRequest[];
  /** How the next requests are treated; a 202 until set. */
  respond: Respond;
  /** Forgets the requests and answers 202 again. */
  reset(): void;
  close(): Promise<void>;
}

export const startProvider = async (): Promise<FakeProvider> => {
  const closed = new WeakMap<Socket, Promise<void>>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const { socket } = req;
      const request: ProviderRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        socket,
        connectionClosed: closed.get(socket) ?? Promise.resolve(),
      };
      provider.requests.push(request);
      provider.respond(request, res);
    });
  });
  server.on('connection', (socket: Socket) => {
    closed.set(socket, new Promise((resolve) => socket.once('close', () => resolve())));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  const provider: FakeProvider = {
    url: `http://127.0.0.1:${port}/v1/messages`,
    requests: [],
    respond: answer(202),
    reset: () => {
      provider.requests.length = 0;
      provider.respond = answer(202);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
  return provider;
};

/** An http: URL on 127.0.0.1 where nothing listens: a port just freed. */
export const refusingUrl = async (): Promise<string> => {
  const provider = await startProvider();
  await provider.close();
  return provider.url;
};
