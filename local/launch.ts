import * as path from 'node:path';
import { type LaunchedLocalCloud, type LaunchOptions, launchLocalCloud } from 'cdk-local-cloud';

const APP_DIR = path.resolve(__dirname, '..');

/** Starts `npm start`'s local cloud (local/start.ts) as a child process: for the tests and the bench. */
export const launchCustomerPipeline = (
  options: Omit<LaunchOptions, 'entry' | 'cwd'> & {
    /** A copy of this app to run instead (watch mode's tests edit its sources). @default - this app */
    readonly appDir?: string;
  },
): Promise<LaunchedLocalCloud> => {
  const { appDir = APP_DIR, ...rest } = options;
  return launchLocalCloud({ ...rest, entry: path.join(appDir, 'local', 'start.ts'), cwd: appDir });
};
