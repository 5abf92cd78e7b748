import type { AwsProxy, Fault } from '../src/aws-proxy';
import { type ControlApi, startControlApi } from '../src/control-api';
import { closeServer } from '../src/net';

/** A function's proxy that only remembers the rules it was given. */
const fakeProxy = (caller: string) => {
  const faults: Fault[] = [];
  const proxy: AwsProxy = {
    caller,
    url: 'http://127.0.0.1:1',
    seed: 0,
    calls: () => [],
    addFault: (fault) => {
      faults.push(fault);
    },
    clearFaults: () => {
      faults.splice(0);
    },
    close: async () => {},
  };
  return { proxy, faults };
};

let api: ControlApi;
let printed: string[];
const welcome = fakeProxy('WelcomeFunction');
const archive = fakeProxy('ArchiveFunction');

beforeEach(async () => {
  printed = [];
  welcome.faults.splice(0);
  archive.faults.splice(0);
  api = await startControlApi(
    new Map(),
    new Map([
      ['WelcomeFunction', welcome.proxy],
      ['ArchiveFunction', archive.proxy],
    ]),
    { calls: [], deliveries: [] },
    { seed: 1234, print: (line) => printed.push(line) },
  );
});

afterEach(() => closeServer(api.server));

const post = async (body: unknown) => {
  const response = await fetch(`${api.url}/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

describe('POST /faults', () => {
  test('adds a rule to one function, with the cloud’s seed, and announces it', async () => {
    const answer = await post({
      caller: 'WelcomeFunction',
      service: 'dynamodb',
      operation: 'TransactWriteItems',
      kind: 'TransactionConflict',
      remaining: 2,
    });

    expect(answer).toEqual({
      status: 200,
      body: { ok: true, seed: 1234, callers: ['WelcomeFunction'] },
    });
    expect(welcome.faults).toEqual([
      {
        service: 'dynamodb',
        operation: 'TransactWriteItems',
        kind: 'TransactionConflict',
        remaining: 2,
        seed: 1234,
      },
    ]);
    expect(archive.faults).toEqual([]);
    expect(printed).toEqual([
      'fault rule → WelcomeFunction: dynamodb TransactWriteItems TransactionConflict, the next 2 call(s)',
    ]);
  });

  test('without a caller, adds it to every function; a rate rule names its seed', async () => {
    const answer = await post({ kind: 'any', rate: 0.05, seed: 7 });

    expect(answer.body).toMatchObject({ seed: 7, callers: ['WelcomeFunction', 'ArchiveFunction'] });
    expect(welcome.faults).toEqual([{ kind: 'any', rate: 0.05, seed: 7 }]);
    expect(archive.faults).toEqual(welcome.faults);
    expect(printed).toEqual([
      'fault rule → every function: every service any, at rate 0.05, seed 7',
    ]);
  });

  test.each([
    ['unreachable', 'ResetBefore'],
    ['error', 'InternalError'],
  ])('still takes the older mode %s, as %s', async (mode, kind) => {
    await post({ caller: 'ArchiveFunction', service: 's3', mode });
    expect(archive.faults).toEqual([{ service: 's3', kind, seed: 1234 }]);
  });

  test('names the functions when the caller is unknown (404)', async () => {
    const answer = await post({ caller: 'Nobody', kind: 'Throttling' });
    expect(answer).toEqual({
      status: 404,
      body: { message: 'no function Nobody', functions: ['WelcomeFunction', 'ArchiveFunction'] },
    });
  });

  test.each([
    [{ kind: 'Explode' }, 'kind'],
    [{ kind: 'Throttling', rate: 1.5 }, 'rate'],
    [{ kind: 'Throttling', remaining: 0 }, 'remaining'],
    [{ kind: 'Delay', delayMs: -1 }, 'delayMs'],
    [{ kind: 'Throttling', mode: 'error' }, 'not both'],
    [{}, 'not both'],
    [{ kind: 'Throttling', servce: 'sqs' }, 'servce'],
  ])('refuses %j with 400, saying what is wrong', async (body, what) => {
    const answer = await post(body);
    expect(answer.status).toBe(400);
    expect(String(answer.body.message)).toContain(what);
    expect([...welcome.faults, ...archive.faults]).toEqual([]);
  });
});

test('DELETE /faults clears every function’s rules', async () => {
  await post({ kind: 'Throttling' });
  const response = await fetch(`${api.url}/faults`, { method: 'DELETE' });

  expect(response.status).toBe(200);
  expect([...welcome.faults, ...archive.faults]).toEqual([]);
  expect(printed.at(-1)).toBe('fault rules cleared');
});
