import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Never inputs of a synth: installed packages, VCS data, synth output, hidden work folders. */
const SKIPPED = new Set(['node_modules', 'cdk.out', '.git']);

const files = (root: string, dir: string, skip: ReadonlySet<string>): string[] =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      return SKIPPED.has(entry.name) || entry.name.startsWith('.') || skip.has(file)
        ? []
        : files(root, file, skip);
    }
    return entry.isFile() ? [file] : [];
  });

/**
 * What a synth of the app in `appDir` depends on, as one hash: every file of the app (its
 * path, size and modification time; not node_modules, cdk.out, .git or hidden folders),
 * the lock file, and the context. The same fingerprint means the same assembly; anything
 * touched (even a file the synth does not read) means a new synth, never a stale one.
 */
export const appFingerprint = (
  appDir: string,
  context: Readonly<Record<string, string>>,
  skip: readonly string[] = [],
): string => {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(Object.entries(context).sort()));
  const skipped = new Set(skip.map((dir) => path.resolve(dir)));
  for (const file of files(appDir, appDir, skipped).sort()) {
    const stat = fs.statSync(file);
    hash.update(`${path.relative(appDir, file)}\0${stat.size}\0${stat.mtimeMs}\n`);
  }
  return hash.digest('hex');
};

/** The file beside an assembly that says which fingerprint it was synthesized from. */
export const FINGERPRINT_FILE = 'local-cloud.fingerprint';

export const assemblyFingerprint = (outdir: string): string | undefined => {
  try {
    return fs.readFileSync(path.join(outdir, FINGERPRINT_FILE), 'utf8').trim();
  } catch {
    return undefined;
  }
};

export const recordFingerprint = (outdir: string, fingerprint: string): void =>
  fs.writeFileSync(path.join(outdir, FINGERPRINT_FILE), `${fingerprint}\n`);
