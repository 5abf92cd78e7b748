import * as fs from 'node:fs';

/** Stops the local cloud the setup started, and removes its files unless asked to keep them. */
export default async function globalTeardown(): Promise<void> {
  const cloud = globalThis.__LOCAL_CLOUD__;
  if (cloud === undefined) return;
  const { child, dir } = cloud;
  if (child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  }
  if (process.env.KEEP_LOCAL_CLOUD_LOGS) {
    console.log(`local cloud files kept in ${dir}`);
  } else {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
