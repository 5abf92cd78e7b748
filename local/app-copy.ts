import * as fs from 'node:fs';
import * as path from 'node:path';

const APP_DIR = path.resolve(__dirname, '..');

/** What a copy of the app needs to synthesize and run, besides node_modules (linked). */
const COPIED = [
  'bin',
  'lib',
  'lambda',
  'local',
  'ops',
  'cdk.json',
  'package.json',
  'tsconfig.json',
];

/**
 * Copies the app into `target` (created), with this checkout's node_modules linked in: a
 * project whose sources a test or the bench may edit (watch mode) without touching these.
 * Returns `target`.
 */
export const copyApp = (target: string): string => {
  fs.mkdirSync(target, { recursive: true });
  for (const entry of COPIED) {
    fs.cpSync(path.join(APP_DIR, entry), path.join(target, entry), { recursive: true });
  }
  fs.symlinkSync(path.join(APP_DIR, 'node_modules'), path.join(target, 'node_modules'), 'dir');
  return target;
};

/** Replaces `before` with `after` in the copy's `file`, as an editor's save would. */
export const editFile = (app: string, file: string, before: string, after: string): void => {
  const target = path.join(app, file);
  const text = fs.readFileSync(target, 'utf8');
  if (!text.includes(before)) throw new Error(`${file} has no ${JSON.stringify(before)}`);
  fs.writeFileSync(target, text.replace(before, after));
};
