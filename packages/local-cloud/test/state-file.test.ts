import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeLocalCloudState } from '../src/state';

// launchLocalCloud takes "the state file exists" for ready and reads it at once: a reader
// must never see it half-written, however often it is rewritten.

jest.setTimeout(60_000);

/** Reads the file as fast as it can until told to stop; prints how many reads were not whole JSON. */
const READER = `
const fs = require('node:fs');
const file = process.argv[1];
let torn = 0, reads = 0, stop = false;
process.stdin.on('data', () => { stop = true; });
const loop = () => {
  for (let i = 0; i < 200 && !stop; i++) {
    let text;
    try { text = fs.readFileSync(file, 'utf8'); } catch { continue; }
    reads++;
    try { JSON.parse(text); } catch { torn++; }
  }
  if (stop) { process.stdout.write(JSON.stringify({ torn, reads })); process.exit(0); }
  setImmediate(loop);
};
process.stdout.write('ready\\n');
loop();
`;

test('a reader never sees the state file half-written', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'state-file-'));
  const file = path.join(dir, 'state.json');
  const big = {
    resources: Object.fromEntries(
      Array.from({ length: 5000 }, (_, i) => [`R${i}`, { ref: 'x'.repeat(100) }]),
    ),
  };
  const reader = spawn(process.execPath, ['-e', READER, file], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  reader.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  await new Promise<void>((resolve) => reader.stdout.once('data', () => resolve()));
  for (let i = 0; i < 150; i += 1) {
    writeLocalCloudState(file, { ...big, round: i });
    await new Promise((resolve) => setImmediate(resolve));
  }
  const exited = new Promise((resolve) => reader.once('exit', resolve));
  reader.stdin.end('stop');
  await exited;
  const { torn, reads } = JSON.parse(out.replace(/^ready\n/, '')) as {
    torn: number;
    reads: number;
  };
  fs.rmSync(dir, { recursive: true, force: true });
  expect(reads).toBeGreaterThan(0);
  expect(torn).toBe(0);
  expect(fs.existsSync(`${file}.${process.pid}.partial`)).toBe(false);
});
