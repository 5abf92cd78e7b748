import type { CustomerEvent } from '../../lambda/shared/domain/events';
import {
  NotificationFailed,
  NotificationTimedOut,
  welcomeNotifier,
} from '../../lambda/welcome/notifier';
import { answer, type FakeProvider, refusingUrl, startProvider } from './provider-fixtures';

const API_KEY = 'test-api-key-0123456789';
/** Short, so a provider that never answers fails the test quickly; nothing asserts speed. */
const TIMEOUT_MS = 200;

const event: CustomerEvent = {
  eventId: 'event-1',
  type: 'CustomerCreated',
  occurredAt: '2025-03-04T05:06:07.000Z',
  version: 1,
  customer: {
    id: '0b9f6c1e-3f7a-4c2d-9e8b-000000000001',
    fullName: 'Ada Lovelace',
    email: 'ada@example.com',
    dateOfBirth: '1815-12-10',
    marketingOptIn: false,
    createdAt: '2025-03-04T05:06:07.000Z',
    updatedAt: '2025-03-04T05:06:07.000Z',
    version: 1,
  },
  marketingConsent: 'none',
};

let provider: FakeProvider;

beforeAll(async () => {
  provider = await startProvider();
});

afterEach(() => provider.reset());

afterAll(() => provider.close());

const send = (url = provider.url) =>
  welcomeNotifier(url, { timeoutMs: TIMEOUT_MS })(API_KEY, event);

describe('welcome notifier', () => {
  it('POSTs the welcome as JSON with the bearer key and the event id as Idempotency-Key', async () => {
    await send();

    expect(provider.requests).toHaveLength(1);
    const [request] = provider.requests;
    const body = JSON.stringify({
      template: 'welcome',
      customerId: event.customer.id,
      email: 'ada@example.com',
      fullName: 'Ada Lovelace',
    });
    expect(request).toMatchObject({
      method: 'POST',
      path: '/v1/messages',
      headers: expect.objectContaining({
        authorization: `Bearer ${API_KEY}`,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
        'idempotency-key': 'event-1',
      }),
    });
    expect(JSON.parse(request?.body ?? '')).toEqual(JSON.parse(body));
  });

  it.each([400, 401, 404, 429, 500, 503])(
    'rejects a %i answer with NotificationFailed',
    async (status) => {
      provider.respond = answer(status, JSON.stringify({ message: 'no' }));

      const sent = send();

      await expect(sent).rejects.toBeInstanceOf(NotificationFailed);
      await expect(sent).rejects.toMatchObject({ status });
    },
  );

  it('does not follow a redirect, so the key goes nowhere else', async () => {
    provider.respond = (_request, response) =>
      response
        .writeHead(307, { location: 'http://127.0.0.1:1/elsewhere', 'content-length': 0 })
        .end();

    await expect(send()).rejects.toMatchObject({ name: 'NotificationFailed', status: 307 });
    expect(provider.requests).toHaveLength(1);
  });

  it('reads an error answer to its end, so the next send reuses the connection', async () => {
    provider.respond = answer(500, 'x'.repeat(256 * 1024));
    const notify = welcomeNotifier(provider.url, { timeoutMs: TIMEOUT_MS });

    await expect(notify(API_KEY, event)).rejects.toBeInstanceOf(NotificationFailed);
    provider.respond = answer(202, '{"id":"m-1"}');
    await notify(API_KEY, event);
    await notify(API_KEY, event);

    const [first, second, third] = provider.requests;
    expect(second?.socket).toBe(first?.socket);
    expect(third?.socket).toBe(first?.socket);
  });

  it('rejects with NotificationTimedOut and drops the connection when the provider never answers', async () => {
    provider.respond = () => {};

    await expect(send()).rejects.toBeInstanceOf(NotificationTimedOut);
    await provider.requests[0]?.connectionClosed;
  });

  it('rejects with NotificationTimedOut when the answer never ends', async () => {
    provider.respond = (_request, response) => {
      response.writeHead(200, { 'content-length': 1024 });
      response.write('partial');
    };

    await expect(send()).rejects.toBeInstanceOf(NotificationTimedOut);
  });

  it('rejects when the provider hangs up mid-answer', async () => {
    provider.respond = (_request, response) => {
      response.writeHead(202, { 'content-length': 1024 });
      response.write('partial', () => response.socket?.destroy());
    };

    await expect(send()).rejects.toThrow();
  });

  it('rejects when the provider hangs up without answering', async () => {
    provider.respond = (_request, response) => response.socket?.destroy();

    await expect(send()).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it('rejects when the connection is refused', async () => {
    await expect(send(await refusingUrl())).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('speaks TLS to an https: endpoint', async () => {
    // The plain-HTTP provider cannot complete a TLS handshake: the request went over TLS.
    const https = provider.url.replace(/^http:/, 'https:');

    await expect(send(https)).rejects.toThrow(/SSL|TLS|EPROTO|wrong version/i);
  });

  it.each([
    ['ftp://notify.example.com/v1/messages', 'must be http: or https:, got ftp:'],
    ['file:///etc/passwd', 'must be http: or https:, got file:'],
    ['notify.example.com/v1/messages', 'is not a URL'],
  ])('refuses the endpoint %s when it is created, before any send', (endpoint, message) => {
    expect(() => welcomeNotifier(endpoint)).toThrow(message);
  });
});
