import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CodeWatch, FunctionBundler } from 'cdk-local-cloud';
import * as esbuild from 'esbuild';
import { bundleAssetsOf, bundleOptions, LAMBDA_ROOT } from '../lib/bundling';
import { nameOf } from '../lib/resource-names';

const APP_ROOT = path.resolve(__dirname, '..');

/**
 * One handler's bundle, rebuilt on save with exactly the options the CDK app bundles it
 * with (lib/bundling.ts's `bundleOptions`), kept warm by esbuild between rebuilds. The
 * output stays in memory: the local cloud writes each reload's code where it chooses.
 */
export const handlerBundler = (entry: string): FunctionBundler => {
  // Where bundleOptions would write; only the names of the outputs under it are used.
  const outdir = path.join(APP_ROOT, '.local-cloud', 'bundle');
  const context = esbuild.context({
    ...bundleOptions(entry, outdir),
    write: false,
    metafile: true,
    // Errors come back in the rejection, for the local cloud to print once.
    logLevel: 'silent',
  });
  return {
    build: async () => {
      const result = await (await context).rebuild();
      const inputs = Object.keys(result.metafile?.inputs ?? {});
      return {
        // The metafile names inputs relative to the working directory esbuild resolves from.
        inputs: inputs.map((input) => path.resolve(APP_ROOT, input)),
        files: [
          ...(result.outputFiles ?? []).map((file) => ({
            name: path.relative(outdir, file.path),
            contents: file.contents,
          })),
          // What the synth copies next to the bundle too (a module's WebAssembly).
          ...bundleAssetsOf(inputs).map((asset) => ({
            name: asset.name,
            contents: fs.readFileSync(asset.source),
          })),
        ],
      };
    },
    dispose: async () => (await context).dispose(),
  };
};

/**
 * This app's sources for `npm start -- --watch`: every function is a `PipelineFunction`,
 * marked with its folder under `lambda/` (lib/resource-names.ts), whose `handler.ts` is
 * its entry; `lib/` and `bin/` define the stack.
 */
export const customerPipelineWatch: CodeWatch = {
  codeRoots: [LAMBDA_ROOT],
  infraRoots: [path.join(APP_ROOT, 'lib'), path.join(APP_ROOT, 'bin')],
  bundlerFor: (_logicalId, resource) => {
    const name = nameOf(resource);
    if (name?.role !== 'function') return undefined;
    return handlerBundler(path.join(LAMBDA_ROOT, name.name, 'handler.ts'));
  },
};
