import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { BUNDLE_FILE, bundleOptions, LAMBDA_ROOT } from '../../lib/bundling';
import { RESOURCE_METADATA_KEY } from '../../lib/resource-names';
import { customerPipelineWatch, handlerBundler } from '../../local/watch';

// `npm start -- --watch` rebuilds a handler with the CDK app's own bundling options: the
// same bytes as the synth's bundle, and the files it read, so a save to any of them reloads it.

jest.setTimeout(60_000);

const entry = path.join(LAMBDA_ROOT, 'welcome', 'handler.ts');

test('a rebuild gives the bytes the synth bundles, and names every source file it read', async () => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'watch-bundle-'));
  const bundler = handlerBundler(entry);
  try {
    esbuild.buildSync(bundleOptions(entry, outdir));
    const { files, inputs } = await bundler.build();

    expect(files.map((f) => f.name)).toEqual([BUNDLE_FILE]);
    expect(
      Buffer.from(files[0]?.contents ?? []).equals(fs.readFileSync(path.join(outdir, BUNDLE_FILE))),
    ).toBe(true);
    expect(inputs).toEqual(
      expect.arrayContaining([entry, path.join(LAMBDA_ROOT, 'shared', 'contract.ts')]),
    );
    expect(inputs.every((input) => path.isAbsolute(input))).toBe(true);
  } finally {
    await bundler.dispose();
    fs.rmSync(outdir, { recursive: true, force: true });
  }
});

test('a rebuild carries the files its modules read beside themselves, as the synth’s bundle does', async () => {
  const dir = fs.mkdtempSync(path.join(LAMBDA_ROOT, '.watch-test-'));
  const entry = path.join(dir, 'handler.ts');
  fs.writeFileSync(
    entry,
    "import { resizeAvatar } from '../shared/adapters/avatar-resize';\nexport const handler = async () => resizeAvatar;\n",
  );
  const bundler = handlerBundler(entry);
  try {
    const { files } = await bundler.build();
    expect(files.map((f) => f.name).sort()).toEqual([BUNDLE_FILE, 'photon_rs_bg.wasm']);
  } finally {
    await bundler.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a build error rejects with esbuild’s message, naming the file and line', async () => {
  const dir = fs.mkdtempSync(path.join(LAMBDA_ROOT, '.watch-test-'));
  const broken = path.join(dir, 'handler.ts');
  fs.writeFileSync(broken, 'export const handler = async () => {\n  return 1 +;\n};\n');
  const bundler = handlerBundler(broken);
  try {
    await expect(bundler.build()).rejects.toThrow(/handler\.ts:2:\d+: ERROR: /);
  } finally {
    await bundler.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('builds each function from the folder its construct marks, and nothing else', async () => {
  const marked = (name: string, role: string) => ({
    Type: 'AWS::Lambda::Function',
    Metadata: { [RESOURCE_METADATA_KEY]: { name, role } },
  });
  const welcome = customerPipelineWatch.bundlerFor('WelcomeFn', marked('welcome', 'function'));
  try {
    expect((await welcome?.build())?.inputs).toContain(entry);
  } finally {
    await welcome?.dispose();
  }
  expect(customerPipelineWatch.bundlerFor('Queue', marked('welcome', 'queue'))).toBeUndefined();
  expect(
    customerPipelineWatch.bundlerFor('Provider', { Type: 'AWS::Lambda::Function' }),
  ).toBeUndefined();
});
