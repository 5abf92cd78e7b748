import * as path from 'node:path';
import { type LaunchedLocalCloud, type LaunchOptions, launchLocalCloud } from 'cdk-local-cloud';

const APP_DIR = path.resolve(__dirname, '..');

/** Starts `npm start`'s local cloud (local/start.ts) as a child process: for the tests and the bench. */
export const launchCustomerPipeline = (
  options: Omit<LaunchOptions, 'entry' | 'cwd'>,
): Promise<LaunchedLocalCloud> =>
  launchLocalCloud({ ...options, entry: path.join(__dirname, 'start.ts'), cwd: APP_DIR });
