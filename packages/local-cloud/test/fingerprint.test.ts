import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  appFingerprint,
  assemblyFingerprint,
  FINGERPRINT_FILE,
  recordFingerprint,
} from '../src/fingerprint';

let app: string;
const write = (file: string, text: string) => {
  fs.mkdirSync(path.dirname(path.join(app, file)), { recursive: true });
  fs.writeFileSync(path.join(app, file), text);
};

beforeEach(() => {
  app = fs.mkdtempSync(path.join(os.tmpdir(), 'fingerprint-app-'));
  write('cdk.json', '{"app":"node bin/app.js"}');
  write('bin/app.js', 'new App();');
  write('package-lock.json', '{}');
});
afterEach(() => fs.rmSync(app, { recursive: true, force: true }));

describe('appFingerprint', () => {
  test('is the same while nothing changes', () => {
    expect(appFingerprint(app, { stage: 'dev' })).toBe(appFingerprint(app, { stage: 'dev' }));
  });

  test('changes when a file of the app changes, is added, or the context differs', () => {
    const before = appFingerprint(app, { stage: 'dev' });
    expect(appFingerprint(app, { stage: 'prod' })).not.toBe(before);
    write('lib/stack.js', 'new Stack();');
    const added = appFingerprint(app, { stage: 'dev' });
    expect(added).not.toBe(before);
    write('lib/stack.js', 'new Stack(); // changed');
    expect(appFingerprint(app, { stage: 'dev' })).not.toBe(added);
  });

  test('ignores installed packages, synth output, hidden folders and the skipped work directory', () => {
    const before = appFingerprint(app, {}, [path.join(app, 'work')]);
    write('node_modules/x/index.js', '1');
    write('cdk.out/manifest.json', '{}');
    write('.local-cloud/state.json', '{}');
    write('work/logs/fn.log', 'line');
    expect(appFingerprint(app, {}, [path.join(app, 'work')])).toBe(before);
  });
});

test('an assembly remembers the fingerprint it was synthesized from', () => {
  const outdir = path.join(app, 'cdk.out');
  fs.mkdirSync(outdir);
  expect(assemblyFingerprint(outdir)).toBeUndefined();
  recordFingerprint(outdir, 'abc');
  expect(assemblyFingerprint(outdir)).toBe('abc');
  expect(fs.existsSync(path.join(outdir, FINGERPRINT_FILE))).toBe(true);
});
