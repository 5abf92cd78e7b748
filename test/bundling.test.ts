import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { BUNDLE_FILE, bundleAssetsOf, bundleOptions } from '../lib/bundling';
import { PipelineFunction } from '../lib/constructs/pipeline-function';
import { synthPipeline } from './synth';
import { logicalIdOf } from './template-queries';

/**
 * Optional signers the S3 client tries to load inside a try/catch, only for
 * multi-region access points (SigV4a), which this pipeline does not use.
 */
const OPTIONAL_SDK_PEERS = new Set(['@aws-sdk/signature-v4-crt', '@aws-sdk/signature-v4a']);

/**
 * The one test that runs esbuild: every function's bundle must load in a fresh
 * Node process, with nothing but the environment the template gives it.
 */
describe('function bundles', () => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'customer-pipeline-bundles-'));
  let bundles: {
    name: string;
    handlerDir: string;
    file: string;
    environment: Record<string, string>;
  }[];

  beforeAll(() => {
    const { stack, template } = synthPipeline('dev', { bundle: true, outdir });
    const resources = template.toJSON().Resources;
    bundles = stack.node
      .findAll()
      .filter((c): c is PipelineFunction => c instanceof PipelineFunction)
      .map((fn) => {
        const resource = resources[logicalIdOf(stack, fn)];
        const variables: Record<string, unknown> = resource.Properties.Environment.Variables;
        // Tokens (Refs to the table, topic, …) become placeholders, as deployment resolves them.
        const environment = Object.fromEntries(
          Object.entries(variables).map(([k, v]) => [k, typeof v === 'string' ? v : `${k}-value`]),
        );
        const file = path.join(outdir, resource.Metadata['aws:asset:path'], 'index.mjs');
        return { name: fn.node.path, handlerDir: fn.handlerDir, file, environment };
      });
  }, 120_000);

  afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

  test('builds one bundle per function, each from its own handler', () => {
    expect(bundles).toHaveLength(7);
    // CDK caches bundles in-process by their options: a shared key would give every
    // function the first one's bundle.
    expect(new Set(bundles.map(({ file }) => file)).size).toBe(7);
    const contents = bundles.map(({ file }) => fs.readFileSync(file, 'utf8'));
    expect(new Set(contents).size).toBe(7);
  });

  test('each bundle is exactly what its handler bundles to alone (they are built in one run)', () => {
    for (const { name, file, handlerDir } of bundles) {
      const alone = fs.mkdtempSync(path.join(outdir, 'alone-'));
      esbuild.buildSync({
        ...bundleOptions(path.join(__dirname, '..', 'lambda', handlerDir, 'handler.ts'), alone),
        logLevel: 'silent',
      });
      const same = fs.readFileSync(path.join(alone, BUNDLE_FILE)).equals(fs.readFileSync(file));
      expect({ name, same }).toEqual({ name, same: true });
    }
  });

  test("no bundle carries the credential chain's fallbacks, only the environment's link", () => {
    for (const { name, file } of bundles) {
      const code = fs.readFileSync(file, 'utf8');
      const fallbacks = [
        'defaultProvider::fromSSO',
        'defaultProvider::fromIni',
        'defaultProvider::remoteProvider',
        'AWS_WEB_IDENTITY_TOKEN_FILE',
        'AWS_CONTAINER_CREDENTIALS_FULL_URI',
      ].filter((marker) => code.includes(marker));
      expect({ name, fallbacks }).toEqual({ name, fallbacks: [] });
      // What stays: fromEnv, reading the variables Lambda sets.
      expect({ name, fromEnv: code.includes('AWS_SECRET_ACCESS_KEY') }).toEqual({
        name,
        fromEnv: true,
      });
    }
  });

  test('each bundle is a minified ES module that carries its own AWS SDK', () => {
    for (const { name, file } of bundles) {
      const code = fs.readFileSync(file, 'utf8');
      // Minified code runs to thousands of characters a line; readable code, tens.
      const charactersPerLine = code.length / code.split('\n').length;
      expect({ name, minified: charactersPerLine > 500 }).toEqual({ name, minified: true });
      // Nothing is left for the runtime to provide but Node's own modules.
      const bareImports = [...code.matchAll(/(?:from|import|require\()\s*["']([^"']+)["']/g)]
        .map((match) => match[1] ?? '')
        .filter((specifier) => !specifier.startsWith('node:') && !/^[a-z_]+$/.test(specifier))
        .filter((specifier) => !OPTIONAL_SDK_PEERS.has(specifier));
      expect({ name, bareImports }).toEqual({ name, bareImports: [] });
    }
  });

  test('the API bundle leaves the S3 client to the avatar upload bundle, out of its cold start', () => {
    /** The S3 client's service id, which every S3 command of the bundle names. */
    const carriesS3 = (name: string) => {
      const bundle = bundles.find((b) => b.name === `CustomerPipeline-dev/CustomerApi/${name}`);
      if (!bundle) throw new Error(`no bundle of ${name}`);
      return fs.readFileSync(bundle.file, 'utf8').includes('AmazonS3');
    };
    expect(carriesS3('AvatarUploadFunction')).toBe(true);
    expect(carriesS3('Function')).toBe(false);
  });

  test.each([0, 1, 2, 3, 4, 5])(
    'bundle %i loads in a fresh Node process with the template environment',
    (index) => {
      const bundle = bundles[index];
      if (!bundle) throw new Error(`no bundle ${index}`);
      const output = execFileSync(
        process.execPath,
        [
          // The SDK's Node 22 notice, and no other warning, stays out of the test output.
          '--require',
          require.resolve('./setup/quiet-sdk-warning.js'),
          '--input-type=module',
          '-e',
          `const m = await import(${JSON.stringify(`file://${bundle.file}`)}); console.log(typeof m.handler);`,
        ],
        {
          env: {
            PATH: process.env.PATH,
            AWS_REGION: 'eu-west-1',
            AWS_ACCESS_KEY_ID: 'test',
            AWS_SECRET_ACCESS_KEY: 'test',
            ...bundle.environment,
          },
          encoding: 'utf8',
        },
      );
      expect(output.trim()).toBe('function');
    },
  );
});

describe('bundling output', () => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'customer-pipeline-quiet-'));
  afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

  // In a child process: esbuild's service writes to file descriptor 2 itself, where Jest
  // cannot listen. The shared build of every handler runs with the same options.
  test('a clean build prints nothing, so `cdk synth -q` shows no size table or "Done in"', () => {
    const entry = path.join(__dirname, '..', 'lambda', 'api', 'handler.ts');
    const script = [
      "const { bundleOptions } = require('./lib/bundling.ts');",
      `require('esbuild').buildSync(bundleOptions(${JSON.stringify(entry)}, ${JSON.stringify(outdir)}));`,
    ].join('\n');
    const { status, stdout, stderr } = spawnSync(
      process.execPath,
      ['--import', 'tsx', '-e', script],
      {
        cwd: path.join(__dirname, '..'),
        encoding: 'utf8',
      },
    );

    expect({ status, stdout, stderr }).toEqual({ status: 0, stdout: '', stderr: '' });
    expect(fs.existsSync(path.join(outdir, BUNDLE_FILE))).toBe(true);
  });
});

describe('files a bundled module reads beside itself', () => {
  // An entry under lambda/, as a handler's is: bundleOptions resolves from the repository.
  const entryDir = fs.mkdtempSync(path.join(__dirname, '..', 'lambda', '.bundle-assets-'));
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'customer-pipeline-assets-'));
  afterAll(() => {
    fs.rmSync(entryDir, { recursive: true, force: true });
    fs.rmSync(outdir, { recursive: true, force: true });
  });

  test('Photon’s WebAssembly goes next to the bundle, which loads it in a fresh Node.js process and resizes', () => {
    const entry = path.join(entryDir, 'handler.ts');
    fs.writeFileSync(
      entry,
      [
        "import { resizeAvatar } from '../shared/adapters/avatar-resize';",
        'export const handler = async () => {',
        '  const png = Buffer.from(process.env.PNG_BASE64 ?? "", "base64");',
        '  const { width, height, bytes } = resizeAvatar(png);',
        '  return { width, height, jpeg: bytes[0] === 0xff && bytes[1] === 0xd8 };',
        '};',
      ].join('\n'),
    );
    const { metafile } = esbuild.buildSync({ ...bundleOptions(entry, outdir), logLevel: 'silent' });
    const assets = bundleAssetsOf(Object.keys(metafile?.inputs ?? {}));
    expect(assets.map((a) => a.name)).toEqual(['photon_rs_bg.wasm']);
    for (const asset of assets) fs.copyFileSync(asset.source, path.join(outdir, asset.name));
    // Nothing but the bundle's directory: no node_modules to fall back on.
    const isolated = fs.mkdtempSync(path.join(os.tmpdir(), 'customer-pipeline-isolated-'));
    fs.cpSync(outdir, isolated, { recursive: true });
    const png = execFileSync(
      process.execPath,
      [
        '-e',
        "const z=require('zlib');const u=(n)=>{const b=Buffer.alloc(4);b.writeUInt32BE(n);return b};" +
          'const c=(t,d)=>Buffer.concat([u(d.length),Buffer.from(t),d,u(z.crc32(Buffer.concat([Buffer.from(t),d])))]);' +
          'const row=Buffer.concat([Buffer.from([0]),Buffer.alloc(600*4,200)]);' +
          "process.stdout.write(Buffer.concat([Buffer.from([137,80,78,71,13,10,26,10]),c('IHDR',Buffer.concat([u(600),u(300),Buffer.from([8,6,0,0,0])])),c('IDAT',z.deflateSync(Buffer.concat(Array(300).fill(row)))),c('IEND',Buffer.alloc(0))]).toString('base64'))",
      ],
      { encoding: 'utf8' },
    );
    const output = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const { handler } = await import('./index.mjs'); console.log(JSON.stringify(await handler()));",
      ],
      { cwd: isolated, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', PNG_BASE64: png } },
    );
    fs.rmSync(isolated, { recursive: true, force: true });

    expect(JSON.parse(output)).toEqual({ width: 256, height: 128, jpeg: true });
  });
});

describe('the files a bundle needs next to it (BUNDLE_ASSETS)', () => {
  const wasm = (dir: string) =>
    path.join(dir, 'node_modules', '@silvia-odwyer', 'photon-node', 'photon_rs_bg.wasm');

  test('are found for a module read from this repository’s node_modules', () => {
    const assets = bundleAssetsOf(['node_modules/@silvia-odwyer/photon-node/photon_rs.js']);
    expect(assets).toEqual([
      { name: 'photon_rs_bg.wasm', source: wasm(path.resolve(__dirname, '..')) },
    ]);
  });

  test('are found, next to the module esbuild read, when node_modules is elsewhere (a symlink, a hoisted workspace)', () => {
    // esbuild names inputs by their real path, relative to its working directory.
    const assets = bundleAssetsOf([
      'lambda/avatar/handler.ts',
      '../../shared/checkout/node_modules/@silvia-odwyer/photon-node/photon_rs.js',
    ]);
    expect(assets).toEqual([
      {
        name: 'photon_rs_bg.wasm',
        source: wasm(path.resolve(__dirname, '..', '..', '..', 'shared', 'checkout')),
      },
    ]);
  });

  test('are not added to a bundle that never read the module', () => {
    expect(bundleAssetsOf(['lambda/archive/handler.ts', 'node_modules/zod/index.js'])).toEqual([]);
  });
});
