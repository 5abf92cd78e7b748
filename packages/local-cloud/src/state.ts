import * as fs from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as z from 'zod';
import { LOCAL_CREDENTIALS, type LocalCloudState } from './model';

const NOT_RUNNING_HINT = 'start the local cloud first with `npm start`';

/** The state file names no local cloud that is running now. */
export class LocalCloudNotRunning extends Error {
  override readonly name = 'LocalCloudNotRunning';
}

/** Checks what the tools read of a state file; the rest is as the local cloud wrote it. */
const stateSchema = z.looseObject({
  stackName: z.string(),
  region: z.string(),
  endpoint: z.string().min(1),
  pid: z.int(),
  resources: z.record(
    z.string(),
    z.looseObject({
      logicalId: z.string(),
      type: z.string(),
      ref: z.string(),
      attributes: z.record(z.string(), z.string()),
      constructPath: z.string().optional(),
    }),
  ),
});

export const isRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, under someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** The state of the local cloud that wrote `file`, if that cloud is still running. */
export const readLocalCloudState = async (file: string): Promise<LocalCloudState> => {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new LocalCloudNotRunning(`no local cloud state at ${file}: ${NOT_RUNNING_HINT}`);
  }
  let state: z.infer<typeof stateSchema>;
  try {
    state = stateSchema.parse(JSON.parse(text));
  } catch {
    throw new LocalCloudNotRunning(`${file} is not a local cloud state: ${NOT_RUNNING_HINT}`);
  }
  if (!isRunning(state.pid)) {
    throw new LocalCloudNotRunning(
      `the local cloud of ${file} (pid ${state.pid}) is not running: ${NOT_RUNNING_HINT}`,
    );
  }
  return state as unknown as LocalCloudState;
};

/** SDK client settings for the emulator: its endpoint and region, and credentials it accepts. */
export const emulatorClientConfig = (target: { endpoint: string; region: string }) => ({
  endpoint: target.endpoint,
  region: target.region,
  credentials: {
    accessKeyId: LOCAL_CREDENTIALS.AWS_ACCESS_KEY_ID,
    secretAccessKey: LOCAL_CREDENTIALS.AWS_SECRET_ACCESS_KEY,
  },
});

/**
 * Writes the state file whole or not at all: through a file of its own in the same
 * directory, renamed over it. A reader that sees the file (`launchLocalCloud` waits for it
 * to exist) never reads it half-written.
 */
export const writeLocalCloudState = (file: string, state: unknown): void => {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.partial`;
  fs.writeFileSync(partial, `${JSON.stringify(state, null, 2)}\n`);
  fs.renameSync(partial, file);
};
