import * as fs from 'node:fs';
import { stopLocalCloud } from 'cdk-local-cloud';

/** Stops the local cloud the setup started, and removes its files unless asked to keep them. */
export default async function globalTeardown(): Promise<void> {
  const cloud = globalThis.__LOCAL_CLOUD__;
  if (cloud === undefined) return;
  const { child, dir } = cloud;
  await stopLocalCloud(child);
  if (process.env.KEEP_LOCAL_CLOUD_LOGS) {
    console.log(`local cloud files kept in ${dir}`);
  } else {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
