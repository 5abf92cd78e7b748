import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { waitFor } from './net';

export interface RunningMoto {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** The launcher exits with this when it cannot import moto. */
const NO_MOTO_EXIT_CODE = 3;

export class MotoNotInstalled extends Error {
  constructor(python: string, detail: string) {
    super(
      `moto is not installed for ${python} (${detail}): pip install "moto[server]", ` +
        'or point LOCAL_CLOUD_PYTHON at a Python that has it',
    );
    this.name = 'MotoNotInstalled';
  }
}

const LAUNCHER = path.join(__dirname, '..', 'python', 'moto_launcher.py');

const exited = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });

/**
 * Starts moto's server on a free loopback port (python/moto_launcher.py) and waits
 * until it answers. The emulator is this process's alone: it runs in its own process
 * group, so a Ctrl-C in the terminal reaches only this process, and it exits as soon
 * as this process does, however that happens (its stdin is a pipe from us).
 */
export const startMoto = async (
  python = process.env.LOCAL_CLOUD_PYTHON || 'python3',
): Promise<RunningMoto> => {
  const child = spawn(python, [LAUNCHER, '127.0.0.1', '0'], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  // Not waited for by this process's event loop: the pipe alone ties it to us.
  child.unref();
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    // Keep only the start-up chatter, in case it fails to start.
    if (stderr.length < 10_000) stderr += chunk.toString();
  });
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  let port: string | undefined;
  try {
    await waitFor(
      async () => {
        const failed = await Promise.race([spawnError, Promise.resolve(undefined)]);
        if (failed !== undefined) throw new MotoNotInstalled(python, failed.message);
        if (child.exitCode === NO_MOTO_EXIT_CODE) throw new MotoNotInstalled(python, stderr.trim());
        if (child.exitCode !== null) throw new Error(`moto exited: ${stderr.trim()}`);
        port ??= /listening (\d+)/.exec(stdout)?.[1];
        if (port === undefined) return false;
        const response = await fetch(`http://127.0.0.1:${port}/moto-api/`).catch(() => undefined);
        return response?.ok === true;
      },
      { timeoutMs: 30_000, what: 'moto to answer' },
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  for (const stream of [child.stdout, child.stderr]) {
    stream?.removeAllListeners('data');
    stream?.resume();
    // Unref'd like the child: they must not keep this process alive.
    (stream as unknown as { unref?: () => void } | null)?.unref?.();
  }
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin?.end();
      // A profiled moto (LOCAL_CLOUD_MOTO_PROFILE) writes its profile as it goes.
      const grace = process.env.LOCAL_CLOUD_MOTO_PROFILE ? 300_000 : 5_000;
      const timer = setTimeout(() => child.kill('SIGKILL'), grace);
      await exited(child);
      clearTimeout(timer);
    },
  };
};
