import { once } from 'node:events';
import type * as http from 'node:http';
import * as net from 'node:net';

/** A port that is free on 127.0.0.1 right now (the OS picks it). */
export const freePort = async (): Promise<number> => {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
};

/** Starts `server` on a free loopback port and returns its base URL. */
export const listenOnLoopback = async (server: http.Server, port = 0): Promise<string> => {
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as net.AddressInfo;
  return `http://127.0.0.1:${address.port}`;
};

/** Closes `server`, ending idle keep-alive connections so it does not linger. */
export const closeServer = async (server: http.Server): Promise<void> => {
  if (!server.listening) return;
  const closed = once(server, 'close');
  server.close();
  server.closeIdleConnections();
  await closed;
};

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` until it holds; fails after `timeoutMs` naming `what` it waited for. */
export const waitFor = async (
  condition: () => Promise<boolean> | boolean,
  { timeoutMs, intervalMs = 100, what }: { timeoutMs: number; intervalMs?: number; what: string },
): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
};

/** Reads a request body, refusing more than `limit` bytes. */
export const readBody = async (request: http.IncomingMessage, limit: number): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error(`request body over ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
};
