import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { launchLocalCloud, stopLocalCloud } from '../src';

// launchLocalCloud runs a start script with the options as its CLI arguments and waits for
// its state file. The script here writes what it was given as its "state". Each test
// launches twice in one directory: the second must wait for its own state file.
const ENTRY = `import * as fs from 'node:fs';
const argv = process.argv.slice(2);
const stateFile = argv[argv.indexOf('--state-file') + 1];
fs.writeFileSync(stateFile, JSON.stringify({ argv, validation: process.env.CDK_VALIDATION ?? null }));
setInterval(() => {}, 1000);
`;

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'launch-'));
  fs.writeFileSync(path.join(dir, 'entry.ts'), ENTRY);
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const launched = async (options: { env?: Record<string, string>; recordAgeScale?: string }) => {
  const cloud = await launchLocalCloud({
    entry: path.join(dir, 'entry.ts'),
    dir,
    timeScale: '0.5',
    ...options,
  });
  await stopLocalCloud(cloud.child);
  return JSON.parse(fs.readFileSync(cloud.stateFile, 'utf8'));
};

test('gives the CLI the extra environment, over this process’s', async () => {
  expect(await launched({ env: { CDK_VALIDATION: 'false' } })).toMatchObject({
    validation: 'false',
  });
  expect(await launched({})).toMatchObject({ validation: process.env.CDK_VALIDATION ?? null });
});

test('passes the time scale, and the record age scale only when given', async () => {
  const plain = await launched({});
  expect(plain.argv).toEqual(expect.arrayContaining(['--time-scale', '0.5']));
  expect(plain.argv).not.toContain('--record-age-scale');
  const shrunk = await launched({ recordAgeScale: '0.25' });
  expect(shrunk.argv.join(' ')).toContain('--record-age-scale 0.25');
});
