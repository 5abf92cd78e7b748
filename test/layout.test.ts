import * as fs from 'node:fs';
import * as path from 'node:path';

// The layout is a contract: the product (lib/, lambda/) never reaches into the tooling,
// the tooling reaches the local cloud only through its public entry points, and the local
// cloud knows nothing of this app.

const ROOT = path.resolve(__dirname, '..');
const PACKAGE = path.join(ROOT, 'packages', 'local-cloud');
const PUBLIC_ENTRIES = new Set(['cdk-local-cloud', 'cdk-local-cloud/quiet-warnings']);

const sourceFiles = (dir: string): string[] =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      return ['node_modules', 'cdk.out', '.test-apps', '__snapshots__'].includes(entry.name)
        ? []
        : sourceFiles(file);
    }
    return /\.(ts|mts|cts|js|mjs|cjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts')
      ? [file]
      : [];
  });

/** Every module a file imports or requires, as written, with where it resolves for relative ones. */
const importsOf = (file: string): { specifier: string; resolved?: string }[] => {
  const text = fs.readFileSync(file, 'utf8');
  const found = text.matchAll(
    /(?:from\s+|import\s*\(\s*|require\s*\(\s*|import\s+)['"]([^'"]+)['"]/g,
  );
  return [...found].map(([, specifier = '']) => ({
    specifier,
    resolved: specifier.startsWith('.') ? path.resolve(path.dirname(file), specifier) : undefined,
  }));
};

const relative = (file: string) => path.relative(ROOT, file);

describe('the layout', () => {
  test('no file outside the local cloud imports its internals, only its public entry points', () => {
    const offenders = ['bench', 'bin', 'delivery', 'lib', 'lambda', 'local', 'ops', 'test']
      .flatMap((dir) => sourceFiles(path.join(ROOT, dir)))
      .flatMap((file) =>
        importsOf(file)
          .filter(
            ({ specifier, resolved }) =>
              (specifier.startsWith('cdk-local-cloud') && !PUBLIC_ENTRIES.has(specifier)) ||
              resolved?.startsWith(PACKAGE),
          )
          .map(({ specifier }) => `${relative(file)} imports ${specifier}`),
      );
    expect(offenders).toEqual([]);
  });

  test('the local cloud imports nothing of this app', () => {
    const offenders = sourceFiles(PACKAGE).flatMap((file) =>
      importsOf(file)
        .filter(({ resolved }) => resolved !== undefined && !resolved.startsWith(PACKAGE))
        .map(({ specifier }) => `${relative(file)} imports ${specifier}`),
    );
    expect(offenders).toEqual([]);
  });

  test('the product (lib/, lambda/, bin/) imports none of the tooling', () => {
    const tooling = ['bench', 'delivery', 'local', 'ops', 'packages', 'test'].map((dir) =>
      path.join(ROOT, dir),
    );
    const offenders = ['bin', 'lib', 'lambda']
      .flatMap((dir) => sourceFiles(path.join(ROOT, dir)))
      .flatMap((file) =>
        importsOf(file)
          .filter(
            ({ specifier, resolved }) =>
              specifier.startsWith('cdk-local-cloud') ||
              tooling.some((dir) => resolved?.startsWith(`${dir}${path.sep}`)),
          )
          .map(({ specifier }) => `${relative(file)} imports ${specifier}`),
      );
    expect(offenders).toEqual([]);
  });
});
