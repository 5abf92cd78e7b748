import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Customer } from '../../lambda/shared/domain/customer';
import {
  type CustomerHistory,
  createdHistory,
  deletedHistory,
  describeCustomer,
  missing,
  type ObservedCustomer,
  runDemoCommand,
  settled,
  updatedHistory,
} from '../../local/demo';
import type { CommandIo } from '../../ops/command';

const ROOT = path.resolve(__dirname, '..', '..');
const NOT_RUNNING = 'start the local cloud first with `npm start`';

const customer = (overrides: Partial<Customer> = {}): Customer => ({
  id: '3f2a9c1e-0b7d-4c55-9a51-2f0f6f1d8e21',
  fullName: 'Ada Lovelace',
  email: 'ada@example.com',
  dateOfBirth: '1815-12-10',
  marketingOptIn: true,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  version: 1,
  ...overrides,
});

const noVersions = { versions: 0, deleteMarkers: 0, latestIsDeleteMarker: false };

/** What the pipeline leaves for a customer created opted in, once every consumer is done. */
const createdAndSettled: ObservedCustomer = {
  welcomeCalls: [{ idempotencyKey: '4e88a1b2c3d4e5f6', status: 202 }],
  welcomeQueueEmpty: true,
  archive: { versions: 1, deleteMarkers: 0, latestIsDeleteMarker: false, latestCustomerVersion: 1 },
  contact: { versions: 1, deleteMarkers: 0, latestIsDeleteMarker: false },
  consentRecord: { consent: 'granted', version: 1 },
};

const renamed = (): CustomerHistory => {
  const before = customer();
  return updatedHistory(
    createdHistory(before),
    before,
    customer({ fullName: 'Ada King', version: 2 }),
    'renamed',
  );
};

const optedOut = (): CustomerHistory => {
  const before = customer();
  return updatedHistory(
    createdHistory(before),
    before,
    customer({ marketingOptIn: false, version: 2 }),
    'opted out',
  );
};

const deletedNeverOptedIn = (): CustomerHistory => {
  const created = customer({ fullName: 'Alan Turing', marketingOptIn: false });
  return deletedHistory(createdHistory(created), created);
};

const deletedAndSettled: ObservedCustomer = {
  welcomeCalls: [],
  welcomeQueueEmpty: true,
  archive: { versions: 2, deleteMarkers: 0, latestIsDeleteMarker: false, latestIsTombstone: true },
  contact: noVersions,
  consentRecord: { consent: 'revoked', version: 2 },
};

describe('demo report', () => {
  it('reports a created opted-in customer: welcomed, archived once, a marketing contact', () => {
    expect(describeCustomer(createdHistory(customer()), createdAndSettled)).toEqual([
      'Ada Lovelace (3f2a9c1e-0b7d-4c55-9a51-2f0f6f1d8e21): created (opted in)',
      '  welcome: 1 notification sent (Idempotency-Key 4e88a1b2…)',
      '  archive: 1 version, latest is customer version 1',
      '  marketing: contact kept (1 version)',
    ]);
  });

  it('reports a renamed customer under the new name, with both versions archived', () => {
    const observed: ObservedCustomer = {
      ...createdAndSettled,
      archive: { ...createdAndSettled.archive, versions: 2, latestCustomerVersion: 2 },
      contact: { ...createdAndSettled.contact, versions: 2 },
      consentRecord: { consent: 'granted', version: 2 },
    };
    expect(describeCustomer(renamed(), observed)).toEqual([
      'Ada King (3f2a9c1e-0b7d-4c55-9a51-2f0f6f1d8e21): created (opted in), renamed',
      '  welcome: 1 notification sent (Idempotency-Key 4e88a1b2…)',
      '  archive: 2 versions, latest is customer version 2',
      '  marketing: contact kept (2 versions)',
    ]);
  });

  it('reports an opted-out customer as having no contact left', () => {
    const observed: ObservedCustomer = {
      ...createdAndSettled,
      archive: { ...createdAndSettled.archive, versions: 2, latestCustomerVersion: 2 },
      contact: noVersions,
      consentRecord: { consent: 'revoked', version: 2 },
    };
    expect(describeCustomer(optedOut(), observed)).toEqual([
      'Ada Lovelace (3f2a9c1e-0b7d-4c55-9a51-2f0f6f1d8e21): created (opted in), opted out',
      '  welcome: 1 notification sent (Idempotency-Key 4e88a1b2…)',
      '  archive: 2 versions, latest is customer version 2',
      '  marketing: no contact (consent revoked, every version removed)',
    ]);
  });

  it('reports a customer deleted before the welcome: no notification, the tombstone on top', () => {
    expect(describeCustomer(deletedNeverOptedIn(), deletedAndSettled)).toEqual([
      'Alan Turing (3f2a9c1e-0b7d-4c55-9a51-2f0f6f1d8e21): created (not opted in), deleted',
      '  welcome: none (deleted before it could be welcomed)',
      '  archive: 2 versions, latest is the tombstone',
      '  marketing: no contact (deleted; the consent record is its tombstone)',
    ]);
  });

  it('counts failed attempts at the provider apart from the notification sent', () => {
    const observed: ObservedCustomer = {
      ...createdAndSettled,
      welcomeCalls: [
        { idempotencyKey: '4e88a1b2c3d4e5f6', status: 503 },
        { idempotencyKey: '4e88a1b2c3d4e5f6', status: 202 },
      ],
    };
    expect(describeCustomer(createdHistory(customer()), observed)[1]).toBe(
      '  welcome: 1 notification sent (Idempotency-Key 4e88a1b2…), after 1 failed attempt',
    );
  });
});

describe('demo settled', () => {
  it('is settled when the welcome, the archive and the contact are all there', () => {
    expect(settled(createdHistory(customer()), createdAndSettled)).toBe(true);
  });

  it('is not settled while the welcome notification is missing', () => {
    const observed = { ...createdAndSettled, welcomeCalls: [] };
    expect(settled(createdHistory(customer()), observed)).toBe(false);
    expect(missing(createdHistory(customer()), observed)).toEqual(['welcome notification']);
  });

  it('does not count a call the provider refused as the welcome', () => {
    const observed = {
      ...createdAndSettled,
      welcomeCalls: [{ idempotencyKey: '4e88a1b2c3d4e5f6', status: 503 }],
    };
    expect(settled(createdHistory(customer()), observed)).toBe(false);
  });

  it('is not settled while the archive lacks the last version written', () => {
    const observed: ObservedCustomer = {
      ...createdAndSettled,
      contact: { ...createdAndSettled.contact, versions: 2 },
      consentRecord: { consent: 'granted', version: 2 },
    };
    expect(missing(renamed(), observed)).toEqual(['archive of customer version 2']);
  });

  it('is not settled while the archive has nothing at all', () => {
    const observed = {
      ...createdAndSettled,
      archive: { ...noVersions },
    };
    expect(missing(createdHistory(customer()), observed)).toEqual([
      'archive of customer version 1',
    ]);
  });

  it('is not settled while an opt-out is not applied, though no contact is there either', () => {
    const observed: ObservedCustomer = {
      ...createdAndSettled,
      archive: { ...createdAndSettled.archive, versions: 2, latestCustomerVersion: 2 },
      contact: noVersions,
      // Only the creation's grant reached the marketing consumer so far.
      consentRecord: { consent: 'granted', version: 1 },
    };
    expect(missing(optedOut(), observed)).toEqual(['marketing consent revoked at version 2']);
  });

  it('is not settled while a revoked contact still has versions', () => {
    const observed: ObservedCustomer = {
      ...createdAndSettled,
      archive: { ...createdAndSettled.archive, versions: 2, latestCustomerVersion: 2 },
      consentRecord: { consent: 'revoked', version: 2 },
    };
    expect(missing(optedOut(), observed)).toEqual(['marketing contact removed for good']);
  });

  it('is not settled for a deleted customer until the archive shows the tombstone', () => {
    const observed: ObservedCustomer = {
      ...deletedAndSettled,
      archive: {
        versions: 1,
        deleteMarkers: 0,
        latestIsDeleteMarker: false,
        latestCustomerVersion: 1,
      },
    };
    expect(missing(deletedNeverOptedIn(), observed)).toEqual(['archive tombstone']);
  });

  it('waits for the welcome consumer of a deleted customer while its queue holds messages', () => {
    const observed = { ...deletedAndSettled, welcomeQueueEmpty: false };
    expect(missing(deletedNeverOptedIn(), observed)).toEqual([
      'welcome consumer to finish with the creation',
    ]);
  });

  it('accepts a welcome sent before the deletion', () => {
    const observed = {
      ...deletedAndSettled,
      welcomeCalls: [{ idempotencyKey: 'aa', status: 202 }],
      welcomeQueueEmpty: false,
    };
    expect(settled(deletedNeverOptedIn(), observed)).toBe(true);
  });

  it('is settled for a deleted customer with no welcome once the welcome queue is empty', () => {
    expect(settled(deletedNeverOptedIn(), deletedAndSettled)).toBe(true);
  });

  it.each([
    ['opted in', true],
    ['never opted in', false],
  ])(
    'expects the tombstone of a deleted customer (%s) one step after its last version',
    (_, optIn) => {
      const created = customer({ marketingOptIn: optIn });
      const history = deletedHistory(createdHistory(created), created);
      const observed: ObservedCustomer = {
        ...deletedAndSettled,
        consentRecord: { consent: optIn ? 'granted' : 'revoked', version: 1 },
      };
      expect(missing(history, observed)).toEqual(['marketing consent revoked at version 2']);
      expect(
        settled(history, { ...observed, consentRecord: { consent: 'revoked', version: 2 } }),
      ).toBe(true);
    },
  );
});

describe('demo command without a running local cloud', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'demo-test-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const run = async (argv: string[], env: Record<string, string> = {}) => {
    const out: string[] = [];
    const err: string[] = [];
    const io: CommandIo = {
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      env,
      cwd: dir,
    };
    const code = await runDemoCommand(argv, io);
    return { code, out, err };
  };

  it('exits 1 with one line when the state file is missing', async () => {
    const { code, out, err } = await run(['--state-file', 'nowhere.json']);
    expect(code).toBe(1);
    expect(out).toEqual([]);
    expect(err).toHaveLength(1);
    expect(err[0]).toContain(NOT_RUNNING);
    expect(err[0]).not.toContain('\n');
  });

  it('exits 1 with one line when the process that wrote the state is gone', async () => {
    const child = spawn(process.execPath, ['-e', '']);
    await once(child, 'exit');
    const stateFile = path.join(dir, 'stale.json');
    writeFileSync(
      stateFile,
      JSON.stringify({
        stackName: 'CustomerPipeline-dev',
        region: 'us-east-1',
        endpoint: 'http://127.0.0.1:1',
        apiUrl: 'http://127.0.0.1:1',
        sidecars: {},
        resources: {},
        pid: child.pid,
      }),
    );
    const { code, out, err } = await run([], { LOCAL_CLOUD_STATE: stateFile });
    expect(code).toBe(1);
    expect(out).toEqual([]);
    expect(err).toEqual([expect.stringContaining(`(pid ${child.pid}) is not running`)]);
    expect(err[0]).toContain(NOT_RUNNING);
  });

  it('exits the process with code 1 and the one line, as `npm run demo` runs it', async () => {
    const child = spawn(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['local/demo.ts'], {
      cwd: ROOT,
      env: { ...process.env, LOCAL_CLOUD_STATE: path.join(dir, 'missing.json') },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toEqual([
      `demo: no local cloud state at ${path.join(dir, 'missing.json')}: ${NOT_RUNNING}`,
    ]);
  });
});
