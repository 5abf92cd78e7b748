import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  AssetHashType,
  type BundlingOptions,
  type ILocalBundling,
  PERF_BUNDLING_SRC_SYM,
} from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as esbuild from 'esbuild';

/**
 * How every function is bundled: esbuild's API, run in the CDK app's own process.
 *
 * NodejsFunction runs the same esbuild, but through `npx --no-install esbuild`, one
 * npm start per function: about 0.4–0.7 s each on a developer's machine, most of
 * `cdk synth`'s bundling time (bench/RESULTS.md, "Synth time"). Calling the API
 * directly drops npm from the loop; `npm run bench` builds its "ours" variant from
 * these same options.
 */

const REPO_ROOT = path.join(__dirname, '..');

/** The folder holding one `<name>/handler.ts` per function. */
export const LAMBDA_ROOT = path.join(REPO_ROOT, 'lambda');

/** The bundle's file name: `index.handler` is the function's handler. */
export const BUNDLE_FILE = 'index.mjs';

/** Node.js 24, the functions' runtime, as esbuild names it. */
export const BUNDLE_TARGET = 'node24';

/**
 * ESM bundles run `require` for Node built-ins that CommonJS dependencies (the AWS
 * SDK among them) still call; without this, loading fails with
 * `Dynamic require of "node:https" is not supported`.
 */
export const CREATE_REQUIRE_BANNER =
  "import { createRequire as __createRequire } from 'node:module';const require = __createRequire(import.meta.url);";

/**
 * Module replacements: the SDK's default credential chain becomes its first link,
 * the environment, which is where Lambda puts the role's credentials (see
 * lambda/shared/adapters/environment-credentials.ts).
 */
export const BUNDLE_ALIASES: Readonly<Record<string, string>> = {
  '@aws-sdk/credential-provider-node': path.join(
    LAMBDA_ROOT,
    'shared',
    'adapters',
    'environment-credentials.ts',
  ),
};

/**
 * Files a bundled module reads from beside itself at run time, which esbuild cannot see:
 * each is copied next to the bundle of any handler whose build read that module. Photon's
 * CommonJS build loads its WebAssembly from `__dirname` when it is imported.
 */
export const BUNDLE_ASSETS: readonly {
  readonly module: string;
  readonly files: readonly string[];
}[] = [
  { module: 'node_modules/@silvia-odwyer/photon-node/photon_rs.js', files: ['photon_rs_bg.wasm'] },
];

/**
 * The files to put next to a bundle whose build read `inputs` (esbuild's metafile names them
 * by their real path, relative to the repository): `{ name, source }`, `name` relative to the
 * bundle. A module is known by its path from its `node_modules`, and its files are taken from
 * beside the copy esbuild read: node_modules may be a symlink, or a workspace's, hoisted above.
 */
export const bundleAssetsOf = (
  inputs: readonly string[],
): { readonly name: string; readonly source: string }[] =>
  inputs.flatMap((input) => {
    const file = path.resolve(REPO_ROOT, input);
    const posix = file.split(path.sep).join('/');
    const asset = BUNDLE_ASSETS.find((a) => posix.endsWith(`/${a.module}`));
    return (asset?.files ?? []).map((name) => ({
      name,
      source: path.join(path.dirname(file), name),
    }));
  });

/**
 * A minified ES module with the AWS SDK inside (its version is the one this
 * repository tested, not the runtime's), packages' ESM builds preferred so esbuild
 * can drop what is never imported.
 */
export const bundleOptions = (entry: string, outdir: string): esbuild.BuildOptions => ({
  entryPoints: [entry],
  outfile: path.join(outdir, BUNDLE_FILE),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: BUNDLE_TARGET,
  minify: true,
  sourcemap: false,
  mainFields: ['module', 'main'],
  banner: { js: CREATE_REQUIRE_BANNER },
  // CommonJS modules that find files next to themselves (BUNDLE_ASSETS) find them next to
  // the bundle: ES modules have no __dirname, but Node.js gives them import.meta.dirname.
  define: { __dirname: 'import.meta.dirname' },
  metafile: true,
  alias: { ...BUNDLE_ALIASES },
  // Resolve tsconfig.json and packages from the repository root, whatever the cwd.
  absWorkingDir: REPO_ROOT,
  // Warnings and errors only: `cdk synth -q` stays quiet but for aws-cdk-lib's own
  // "Bundling asset …" line per function. 'info' would print a size table and "Done in".
  logLevel: 'warning',
});

/** Every handler: `lambda/<name>/handler.ts`. */
const handlerEntries = (): string[] =>
  fs
    .readdirSync(LAMBDA_ROOT, { withFileTypes: true })
    .filter((dirent) => dirent.isDirectory())
    .map((dirent) => path.join(LAMBDA_ROOT, dirent.name, 'handler.ts'))
    .filter((entry) => fs.existsSync(entry));

const handlerName = (entry: string): string => path.basename(path.dirname(entry));

interface SharedBuild {
  /** `<dir>/<handler name>/index.mjs` for every entry built. */
  readonly dir: string;
  /** Each entry built, with the files its bundle read. */
  readonly entries: ReadonlyMap<string, readonly string[]>;
}

let sharedBuild: SharedBuild | undefined;

/**
 * Every handler bundled in one esbuild run, the first time a function asks for its
 * bundle; the others then copy theirs. The handlers share most of their code (the
 * SDK), which one run parses once: about half the time of a run per function. Each
 * output is byte for byte what `bundleOptions` gives for that entry alone
 * (test/bundling.test.ts checks). Kept for the life of the process, as synth is.
 */
const buildAllHandlers = (): SharedBuild => {
  if (sharedBuild !== undefined) return sharedBuild;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'customer-pipeline-bundles-'));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const entries = handlerEntries();
  const { entryPoints: _one, outfile: _file, ...options } = bundleOptions('', dir);
  const { name, ext } = path.parse(BUNDLE_FILE);
  const { metafile } = esbuild.buildSync({
    ...options,
    entryPoints: entries.map((entry) => ({ in: entry, out: `${handlerName(entry)}/${name}` })),
    outdir: dir,
    outExtension: { '.js': ext },
  });
  const inputsOf = (entry: string): string[] => {
    const output = path.relative(REPO_ROOT, path.join(dir, handlerName(entry), BUNDLE_FILE));
    const found = Object.entries(metafile?.outputs ?? {}).find(
      ([file]) => path.relative(REPO_ROOT, path.resolve(REPO_ROOT, file)) === output,
    );
    return Object.keys(found?.[1].inputs ?? {});
  };
  sharedBuild = { dir, entries: new Map(entries.map((entry) => [entry, inputsOf(entry)])) };
  return sharedBuild;
};

/** A function's bundle, from the shared build; a build error fails the synth with esbuild's message. */
class EsbuildBundling implements ILocalBundling {
  // A field, not a closure: CDK keys its in-process asset cache on the bundling
  // options as JSON, and the entry is what tells two functions' bundles apart.
  constructor(public readonly entry: string) {}

  public tryBundle(outputDir: string): boolean {
    const shared = buildAllHandlers();
    let inputs = shared.entries.get(this.entry);
    if (inputs !== undefined) {
      fs.copyFileSync(
        path.join(shared.dir, handlerName(this.entry), BUNDLE_FILE),
        path.join(outputDir, BUNDLE_FILE),
      );
    } else {
      inputs = Object.keys(
        esbuild.buildSync(bundleOptions(this.entry, outputDir)).metafile?.inputs ?? {},
      );
    }
    for (const asset of bundleAssetsOf(inputs)) {
      fs.copyFileSync(asset.source, path.join(outputDir, asset.name));
    }
    return true;
  }
}

/**
 * The function's code: the entry's bundle, hashed by its output, so a change that
 * does not change the bundle does not change the template.
 */
export const bundledCode = (entry: string): lambda.Code => {
  const bundling: BundlingOptions = Object.assign(
    {
      // Never pulled: local bundling always runs, and throws rather than fall back.
      image: lambda.Runtime.NODEJS_24_X.bundlingImage,
      local: new EsbuildBundling(entry),
    },
    // aws-cdk-lib's performance counters time it as `bundle:PipelineFunction`.
    { [PERF_BUNDLING_SRC_SYM]: 'PipelineFunction' },
  );
  return lambda.Code.fromAsset(path.dirname(entry), {
    assetHashType: AssetHashType.OUTPUT,
    bundling,
  });
};
