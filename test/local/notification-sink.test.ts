import * as net from 'node:net';
import {
  type RunningSink,
  type SinkCall,
  startNotificationSink,
} from '../../local/notification-sink';

const welcome = { template: 'welcome', customerId: 'c-1', email: 'ada@example.com' };

interface Accepted {
  id: string;
  duplicate: boolean;
}

const notify = (
  sink: RunningSink,
  { token, key, body = welcome }: { token?: string; key?: string; body?: unknown } = {},
): Promise<Response> =>
  fetch(`${sink.url}/v1/messages`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token !== undefined && { authorization: `Bearer ${token}` }),
      ...(key !== undefined && { 'idempotency-key': key }),
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

/** Whether something accepts connections on the port: true while a server holds it. */
const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

describe('local notification sink', () => {
  let sink: RunningSink;
  const observed: SinkCall[] = [];

  beforeAll(async () => {
    sink = await startNotificationSink({ onCall: (call) => observed.push(call) });
  });

  afterAll(async () => {
    await sink.close();
  });

  beforeEach(() => {
    sink.reset();
    observed.length = 0;
  });

  it('records the bearer token, the idempotency key and the parsed body, and answers 202', async () => {
    const response = await notify(sink, { token: 'secret-key', key: 'event-1' });

    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ id: expect.any(String), duplicate: false });
    expect(sink.calls()).toEqual([
      {
        receivedAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
        method: 'POST',
        path: '/v1/messages',
        bearerToken: 'secret-key',
        idempotencyKey: 'event-1',
        body: welcome,
        status: 202,
      },
    ]);
    expect(observed).toEqual(sink.calls());
  });

  it('records a body that is not JSON as its raw text', async () => {
    await notify(sink, { token: 'secret-key', body: 'not json {' });

    expect(sink.calls()[0]?.body).toBe('not json {');
  });

  it('answers 401 to a call without a bearer token, and records it with that status', async () => {
    const response = await notify(sink, { key: 'event-1' });

    expect(response.status).toBe(401);
    expect(sink.calls()).toEqual([
      expect.objectContaining({ status: 401, idempotencyKey: 'event-1' }),
    ]);
    expect(sink.calls()[0]).not.toHaveProperty('bearerToken');
  });

  it('flags a repeated idempotency key as a duplicate with the first id, and records both calls', async () => {
    const answer = async (key: string) =>
      (await (await notify(sink, { token: 't', key })).json()) as Accepted;
    const first = await answer('event-1');
    const second = await answer('event-1');
    const other = await answer('event-2');

    expect(first).toEqual({ id: expect.any(String), duplicate: false });
    expect(second).toEqual({ id: first.id, duplicate: true });
    expect(other).toEqual({ id: expect.any(String), duplicate: false });
    expect(other.id).not.toBe(first.id);
    expect(sink.calls().map((call) => call.status)).toEqual([202, 202, 202]);
  });

  it('fails exactly the next n calls with the status asked for, then accepts again', async () => {
    sink.failNext(2, 500);

    const statuses = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      statuses.push((await notify(sink, { token: 't', key: 'event-1' })).status);
    }

    expect(statuses).toEqual([500, 500, 202]);
    expect(sink.calls().map((call) => call.status)).toEqual([500, 500, 202]);
  });

  it('fails with 503 by default, and a failed call does not count as accepted', async () => {
    sink.failNext(1);

    const failed = await notify(sink, { token: 't', key: 'event-1' });
    const retried = await notify(sink, { token: 't', key: 'event-1' });

    expect(failed.status).toBe(503);
    expect(await retried.json()).toEqual({ id: expect.any(String), duplicate: false });
  });

  it('refuses a failNext that would not fail', () => {
    expect(() => sink.failNext(1, 200)).toThrow(RangeError);
    expect(() => sink.failNext(-1)).toThrow(RangeError);
  });

  it('forgets calls, accepted keys and pending failures on reset', async () => {
    await notify(sink, { token: 't', key: 'event-1' });
    sink.failNext(5);

    sink.reset();
    const response = await notify(sink, { token: 't', key: 'event-1' });

    expect(await response.json()).toEqual({ id: expect.any(String), duplicate: false });
    expect(sink.calls()).toHaveLength(1);
  });

  it('answers 405 to a notification path that is not POSTed', async () => {
    const response = await fetch(`${sink.url}/v1/messages`);

    expect(response.status).toBe(405);
    expect(sink.calls()).toEqual([]);
  });

  describe('control API, for another process', () => {
    it('lists the calls at GET /_sink/calls', async () => {
      await notify(sink, { token: 't', key: 'event-1' });

      const response = await fetch(`${sink.url}/_sink/calls`);

      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ calls: sink.calls() });
    });

    it('injects failures at POST /_sink/fail-next', async () => {
      const control = await fetch(`${sink.url}/_sink/fail-next`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ count: 1, status: 429 }),
      });

      expect(control.status).toBe(204);
      expect((await notify(sink, { token: 't' })).status).toBe(429);
      expect((await notify(sink, { token: 't' })).status).toBe(202);
    });

    it('refuses a malformed fail-next request with 400 and injects nothing', async () => {
      const control = await fetch(`${sink.url}/_sink/fail-next`, {
        method: 'POST',
        body: JSON.stringify({ count: 'two' }),
      });

      expect(control.status).toBe(400);
      expect((await notify(sink, { token: 't' })).status).toBe(202);
    });

    it('resets at POST /_sink/reset', async () => {
      await notify(sink, { token: 't', key: 'event-1' });

      const control = await fetch(`${sink.url}/_sink/reset`, { method: 'POST' });

      expect(control.status).toBe(204);
      expect(sink.calls()).toEqual([]);
    });

    it('does not record control calls as notifications', async () => {
      await fetch(`${sink.url}/_sink/reset`, { method: 'POST' });
      await fetch(`${sink.url}/_sink/unknown`, { method: 'POST' });

      expect(sink.calls()).toEqual([]);
    });
  });

  it('frees its port on close()', async () => {
    const other = await startNotificationSink();
    const port = Number(new URL(other.url).port);
    // A keep-alive connection left open must not hold the server up.
    await notify(other, { token: 't' });
    expect(await accepts(port)).toBe(true);

    await other.close();

    expect(await accepts(port)).toBe(false);
  });
});
