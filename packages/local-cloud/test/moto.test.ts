import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startMoto } from '../src/moto';
import { waitFor } from '../src/net';

jest.setTimeout(60_000);

const answers = async (endpoint: string): Promise<boolean> =>
  (await fetch(`${endpoint}/moto-api/`).catch(() => undefined))?.ok === true;

describe('startMoto', () => {
  test('serves on loopback until stopped, then frees its port', async () => {
    const moto = await startMoto();
    expect(moto.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await answers(moto.endpoint)).toBe(true);
    await moto.stop();
    expect(await answers(moto.endpoint)).toBe(false);
  });

  test('goes with the process that started it, even one killed with SIGKILL', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'moto-owner-'));
    const script = path.join(dir, 'owner.ts');
    fs.writeFileSync(
      script,
      `import { startMoto } from ${JSON.stringify(path.resolve(__dirname, '../src/moto'))};
void startMoto().then((moto) => { console.log(moto.endpoint); setInterval(() => {}, 1000); });
`,
    );
    const owner = spawn(process.execPath, ['--import', 'tsx', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const endpoint = await new Promise<string>((resolve, reject) => {
        owner.stdout.on('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
        owner.once('exit', (code) => reject(new Error(`the owner exited (${code})`)));
      });
      expect(await answers(endpoint)).toBe(true);

      owner.kill('SIGKILL');

      await waitFor(async () => !(await answers(endpoint)), {
        timeoutMs: 15_000,
        what: 'moto to exit with its owner',
      });
    } finally {
      owner.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
