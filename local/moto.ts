import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { freePort, waitFor } from './net';

export interface RunningMoto {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  stop(): Promise<void>;
}

export class MotoNotInstalled extends Error {
  constructor() {
    super('moto_server is not installed: pip install "moto[server]"');
    this.name = 'MotoNotInstalled';
  }
}

const motoInstalled = (): boolean =>
  spawnSync('moto_server', ['--help'], { stdio: 'ignore' }).status === 0;

const exited = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });

/** Starts `moto_server` on a free loopback port and waits until it answers. */
export const startMoto = async (): Promise<RunningMoto> => {
  if (!motoInstalled()) throw new MotoNotInstalled();
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    // Keep only the start-up chatter, in case it fails to start.
    if (stderr.length < 10_000) stderr += chunk.toString();
  });
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`moto_server exited: ${stderr.trim()}`);
        const response = await fetch(`${endpoint}/moto-api/`).catch(() => undefined);
        return response?.ok === true;
      },
      { timeoutMs: 30_000, what: 'moto_server to answer' },
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  child.stderr?.removeAllListeners('data');
  child.stderr?.resume();
  return {
    endpoint,
    stop: async () => {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited(child);
      clearTimeout(timer);
    },
  };
};
