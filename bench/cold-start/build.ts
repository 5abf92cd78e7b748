import * as fs from 'node:fs';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { BUNDLE_TARGET, bundleAssetsOf, bundleOptions } from '../../lib/bundling';

/**
 * The two ways a handler can be bundled: ours with the very options PipelineFunction
 * bundles with (lib/bundling.ts), the default reproduced with esbuild's JS API exactly
 * as CDK's NodejsFunction runs the esbuild CLI (aws-lambda-nodejs/lib/bundling.js);
 * and what the resulting bundle is made of.
 */

export const REPO_ROOT = path.join(__dirname, '..', '..');

export type Variant = 'ours' | 'default';
export const VARIANTS: readonly Variant[] = ['ours', 'default'];

const SMITHY_FLAG = '@aws-cdk/aws-lambda-nodejs:sdkV3ExcludeSmithyPackages';

/**
 * What NodejsFunction leaves to the runtime by default on a Node 18+ runtime: the
 * AWS SDK, and with the feature flag (set by `cdk init`, and in this repo) Smithy too.
 */
export const defaultExternals = (context: Readonly<Record<string, unknown>>): string[] =>
  context[SMITHY_FLAG] === true ? ['@aws-sdk/*', '@smithy/*'] : ['@aws-sdk/*'];

export const buildOptions = (
  variant: Variant,
  entry: string,
  outdir: string,
  externals: readonly string[],
): esbuild.BuildOptions & { metafile: true } => {
  const common: esbuild.BuildOptions & { metafile: true } = {
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    // Node 24's, as CDK derives it from the runtime name (`nodejs24.x` → `node24`).
    target: BUNDLE_TARGET,
    // CDK runs esbuild in the project root, so tsconfig.json is found as it is there.
    absWorkingDir: REPO_ROOT,
    metafile: true,
    logLevel: 'warning',
  };
  return variant === 'ours'
    ? { ...bundleOptions(entry, outdir), metafile: true, logLevel: 'warning' }
    : // No --format: esbuild's default for a bundle on platform node is CommonJS.
      { ...common, outfile: path.join(outdir, 'index.js'), external: [...externals] };
};

export interface Bundle {
  readonly file: string;
  readonly bytes: number;
  /** Bytes each input contributes to the output, keyed by the path esbuild reports. */
  readonly inputs: Readonly<Record<string, number>>;
}

export const bundle = async (
  options: esbuild.BuildOptions & { metafile: true },
): Promise<Bundle> => {
  const { metafile } = await esbuild.build(options);
  const [file, output] = Object.entries(metafile.outputs)[0] ?? [];
  if (file === undefined || output === undefined) throw new Error('esbuild wrote no output');
  const absolute = path.resolve(REPO_ROOT, file);
  return {
    file: absolute,
    bytes: fs.statSync(absolute).size,
    inputs: Object.fromEntries(
      Object.entries(output.inputs).map(([input, { bytesInOutput }]) => [input, bytesInOutput]),
    ),
  };
};

/**
 * Copies beside `built` the files its modules read from their own folder at run time
 * (lib/bundling.ts's BUNDLE_ASSETS: Photon's WebAssembly), as PipelineFunction's bundling
 * does, and returns their names. Both variants get them: NodejsFunction copies nothing
 * by itself, and a default build without them fails at the first resize (ENOENT), so its
 * user would add the same copy (`commandHooks.afterBundling`).
 */
export const copyBundleAssets = (built: Bundle): string[] =>
  bundleAssetsOf(Object.keys(built.inputs)).map((asset) => {
    fs.copyFileSync(asset.source, path.join(path.dirname(built.file), asset.name));
    return asset.name;
  });

export const OUR_CODE = 'our code (lambda/)';
export const SHARED_SDK = '@aws-sdk/* (shared: core, middleware, credentials)';

/** The npm package an input path belongs to, or `undefined` for a file of this repository. */
export const packageOf = (input: string): string | undefined => {
  const marker = 'node_modules/';
  const at = input.lastIndexOf(marker);
  if (at === -1) return undefined;
  const [first = '', second = ''] = input.slice(at + marker.length).split('/');
  return first.startsWith('@') ? `${first}/${second}` : first;
};

/**
 * The group an input is counted in: Smithy and Powertools as families, each AWS SDK
 * package this repository depends on by name, the SDK's transitive packages together.
 */
export const groupOf = (input: string, directDependencies: ReadonlySet<string>): string => {
  const pkg = packageOf(input);
  if (pkg === undefined) return OUR_CODE;
  if (pkg.startsWith('@smithy/')) return '@smithy/*';
  if (pkg.startsWith('@aws-lambda-powertools/')) return '@aws-lambda-powertools/*';
  if (pkg.startsWith('@aws-sdk/')) return directDependencies.has(pkg) ? pkg : SHARED_SDK;
  return pkg;
};

export interface Share {
  readonly group: string;
  readonly bytes: number;
}

/** The `top` largest groups, largest first, then one `everything else` row if anything is left. */
export const composition = (
  inputs: Readonly<Record<string, number>>,
  directDependencies: ReadonlySet<string>,
  top = 8,
): Share[] => {
  const totals = new Map<string, number>();
  for (const [input, bytes] of Object.entries(inputs)) {
    const group = groupOf(input, directDependencies);
    totals.set(group, (totals.get(group) ?? 0) + bytes);
  }
  const sorted = [...totals]
    .map(([group, bytes]) => ({ group, bytes }))
    .filter(({ bytes }) => bytes > 0)
    .sort((a, b) => b.bytes - a.bytes || a.group.localeCompare(b.group));
  const rest = sorted.slice(top).reduce((sum, { bytes }) => sum + bytes, 0);
  return rest > 0 ? [...sorted.slice(0, top), { group: 'everything else', bytes: rest }] : sorted;
};

export interface ZodShare {
  readonly bytes: number;
  /**
   * Locale files that made it into the bundle: `en` is classic zod's default; zod/mini
   * loads none, and only the api adds `en` for its messages.
   */
  readonly locales: string[];
  /** Which API the bundle carries: classic zod (`zod`) or the functional `zod/mini`. */
  readonly flavour: 'classic' | 'mini';
}

export const zodShare = (inputs: Readonly<Record<string, number>>): ZodShare => {
  const zod = Object.entries(inputs).filter(([input]) => packageOf(input) === 'zod');
  return {
    bytes: zod.reduce((sum, [, bytes]) => sum + bytes, 0),
    flavour: zod.some(([input, bytes]) => bytes > 0 && input.includes('/classic/'))
      ? 'classic'
      : 'mini',
    locales: zod
      .filter(([input, bytes]) => bytes > 0 && /\/locales\/[^/]+\.[cm]?js$/.test(input))
      .map(([input]) => path.basename(input).replace(/\.[cm]?js$/, ''))
      .sort(),
  };
};

/**
 * One schema bundled with our options three ways: classic zod's namespace import, its
 * named `z` export (which holds every locale), and zod/mini (functional checks that
 * tree-shake further; what the handlers use), to show what each costs in bytes.
 */
export const zodImportStyles = async (): Promise<{
  namespace: number;
  named: number;
  mini: number;
}> => {
  const classic =
    'export const customer = z.object({ name: z.string().min(1), email: z.email() });';
  const size = async (contents: string): Promise<number> => {
    const { metafile } = await esbuild.build({
      ...buildOptions('ours', '', '', []),
      entryPoints: undefined,
      outfile: undefined,
      write: false,
      stdin: { contents, resolveDir: REPO_ROOT, loader: 'ts' },
    });
    return Object.values(metafile.outputs)[0]?.bytes ?? 0;
  };
  return {
    namespace: await size(`import * as z from 'zod';\n${classic}`),
    named: await size(`import { z } from 'zod';\n${classic}`),
    mini: await size(
      "import * as z from 'zod/mini';\nexport const customer = z.object({ name: z.string().check(z.minLength(1)), email: z.email() });",
    ),
  };
};

/** The SDK clients a handler may create, by package: the class each exports. */
export const SDK_CLIENTS: Readonly<Record<string, string>> = {
  '@aws-sdk/client-dynamodb': 'DynamoDBClient',
  '@aws-sdk/client-s3': 'S3Client',
  '@aws-sdk/client-secrets-manager': 'SecretsManagerClient',
  '@aws-sdk/client-sns': 'SNSClient',
};

/** The SDK client packages a bundle holds, from its metafile's inputs. */
export const sdkClientsIn = (inputs: Readonly<Record<string, number>>): string[] =>
  [
    ...new Set(
      Object.entries(inputs)
        .filter(([, bytes]) => bytes > 0)
        .map(([input]) => packageOf(input) ?? ''),
    ),
  ]
    .filter((pkg) => SDK_CLIENTS[pkg] !== undefined)
    .sort();

/**
 * A module that creates the given clients and does nothing else: the least code any
 * handler making those clients' calls must load, whatever it does and however it is
 * bundled. Its handler returns at once.
 */
export const sdkClientsModule = (packages: readonly string[]): string =>
  [
    ...packages.map((pkg, i) => `import { ${SDK_CLIENTS[pkg]} as C${i} } from '${pkg}';`),
    `export const clients = [${packages.map((_, i) => `new C${i}({})`).join(', ')}];`,
    'export const handler = async () => ({ clients: clients.length });',
  ].join('\n');

export const PHOTON = '@silvia-odwyer/photon-node';

/** Whether a bundle holds Photon, from its metafile's inputs. */
export const holdsPhoton = (inputs: Readonly<Record<string, number>>): boolean =>
  Object.entries(inputs).some(([input, bytes]) => bytes > 0 && packageOf(input) === PHOTON);

/**
 * A module whose handler times Photon in the avatar function's own adapter: loading it (the
 * WebAssembly read, compiled and instantiated, which the function does lazily on its first
 * resize), then resizing the event's image once cold and once more warm.
 */
export const photonProbeModule = (): string =>
  [
    "import { resizeAvatar } from './lambda/shared/adapters/avatar-resize';",
    'export const handler = async (event: { png: string }) => {',
    "  const png = Buffer.from(event.png, 'base64');",
    '  const started = performance.now();',
    `  require('${PHOTON}');`,
    '  const loaded = performance.now();',
    '  resizeAvatar(png);',
    '  const resized = performance.now();',
    '  resizeAvatar(png);',
    '  return { loadMs: loaded - started, firstResizeMs: resized - loaded, warmResizeMs: performance.now() - resized };',
    '};',
  ].join('\n');

/**
 * The business metrics of one consumer invocation (three records, one failed), written two
 * ways, each after the Logger every handler loads: through Powertools Metrics
 * (`byPowertools`), as issue 17 first asked, or through the handlers' own EMF writer
 * (`byHand`, lambda/shared/adapters/metrics.ts), which replaced it because of this comparison.
 * Both write the same three documents (a test checks it); their difference is what
 * Powertools Metrics would add to a cold start.
 */
export const metricsProbeModules = (): {
  readonly byPowertools: string;
  readonly byHand: string;
} => {
  const logger = [
    "import { Logger } from '@aws-lambda-powertools/logger';",
    'const logger = new Logger();',
  ];
  return {
    byPowertools: [
      ...logger,
      "import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';",
      'const metrics = new Metrics({ logger });',
      'export const handler = async () => {',
      "  metrics.addMetric('WelcomesSent', MetricUnit.Count, 1);",
      '  metrics.publishStoredMetrics();',
      // An empty set is Powertools' default dimensions alone: [service].
      '  metrics.addDimensions({});',
      "  metrics.addDimensions({ FunctionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION ?? '$LATEST' });",
      "  metrics.addMetric('RecordsReceived', MetricUnit.Count, 3);",
      "  metrics.addMetric('RecordsFailed', MetricUnit.Count, 1);",
      '  metrics.publishStoredMetrics();',
      "  metrics.addDimensions({ reason: 'Busy' });",
      "  metrics.addMetric('RecordsFailed', MetricUnit.Count, 1);",
      '  metrics.publishStoredMetrics();',
      '  return { published: true };',
      '};',
    ].join('\n'),
    byHand: [
      ...logger,
      "import { BusinessMetrics } from './lambda/shared/adapters/metrics';",
      "import { METRICS } from './lambda/shared/contract';",
      'const metrics = new BusinessMetrics({ logger });',
      'export const handler = async () => {',
      '  metrics.count(METRICS.welcomesSent);',
      '  metrics.count(METRICS.recordsReceived, 3);',
      "  metrics.recordsFailed('Busy');",
      '  metrics.publish();',
      '  return { published: true };',
      '};',
    ].join('\n'),
  };
};

/** The packages package.json names, to keep them apart in the composition. */
export const directDependencies = (): Set<string> => {
  const manifest = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
  return new Set(Object.keys({ ...manifest.dependencies, ...manifest.devDependencies }));
};

export const cdkContext = (): Record<string, unknown> =>
  JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')).context ?? {};
