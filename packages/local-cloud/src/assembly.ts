import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CfnTemplate } from './model';

/** A synthesized stack: its template, and where each file asset (function bundle) was staged. */
export interface SynthesizedStack {
  readonly stackName: string;
  readonly template: CfnTemplate;
  /** The cloud assembly directory. */
  readonly outdir: string;
  /** The template's file. */
  readonly templateFile: string;
  /** Asset hash (the `S3Key` without `.zip`) → the staged directory. */
  readonly assetDirectories: ReadonlyMap<string, string>;
}

export interface SynthOptions {
  /** The CDK app: its cdk.json, and its node_modules with the `cdk` CLI. */
  readonly appDir: string;
  readonly outdir: string;
  /** `-c key=value` pairs, e.g. the stage and the local notification endpoint. */
  readonly context: Readonly<Record<string, string>>;
}

/**
 * Runs `cdk synth` with the app's own CLI, exactly as its CI and `cdk deploy` would,
 * into its own output directory (so the app's `cdk.out` is left alone).
 */
export const synthesize = async ({ appDir, outdir, context }: SynthOptions): Promise<void> => {
  if (!fs.existsSync(path.join(appDir, 'cdk.json'))) {
    throw new Error(`${appDir} has no cdk.json: give the CDK app's directory, or --assembly`);
  }
  const cdk = path.join(appDir, 'node_modules', '.bin', 'cdk');
  if (!fs.existsSync(cdk)) {
    throw new Error(
      `no cdk CLI in ${path.join(appDir, 'node_modules', '.bin')}: npm install --save-dev aws-cdk in the app`,
    );
  }
  const args = ['synth', '-q', '--no-notices', '--output', outdir];
  for (const [key, value] of Object.entries(context)) args.push('-c', `${key}=${value}`);
  const child = spawn(cdk, args, {
    cwd: appDir,
    env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true', CDK_DISABLE_CLI_TELEMETRY: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`cdk synth failed (exit ${code}):\n${output.trim()}`);
};

interface Manifest {
  readonly artifacts: Record<
    string,
    { readonly type: string; readonly properties?: { readonly templateFile?: string } }
  >;
}

interface AssetManifest {
  readonly files?: Record<string, { readonly source: { readonly path: string } }>;
}

const readJson = <T>(file: string): T => JSON.parse(fs.readFileSync(file, 'utf8')) as T;

const stacksOf = (manifest: Manifest): string[] =>
  Object.entries(manifest.artifacts)
    .filter(([, a]) => a.type === 'aws:cloudformation:stack')
    .map(([name]) => name);

/** The name of the assembly's one stack; throws, naming them, if it has several. */
export const onlyStackOf = (outdir: string): string => {
  const stacks = stacksOf(readJson<Manifest>(path.join(outdir, 'manifest.json')));
  const [only] = stacks;
  if (only === undefined || stacks.length > 1) {
    throw new Error(
      `${outdir} has ${stacks.length} stacks (${stacks.join(', ')}): say which with --stack`,
    );
  }
  return only;
};

/** Reads one stack of a cloud assembly: its template and its staged assets. */
export const readStack = (outdir: string, stackName: string): SynthesizedStack => {
  const manifest = readJson<Manifest>(path.join(outdir, 'manifest.json'));
  const artifact = manifest.artifacts[stackName];
  const templateFile = artifact?.properties?.templateFile;
  if (artifact?.type !== 'aws:cloudformation:stack' || templateFile === undefined) {
    throw new Error(
      `no stack ${stackName} in ${outdir} (it has: ${stacksOf(manifest).join(', ')})`,
    );
  }
  const assets = readJson<AssetManifest>(path.join(outdir, `${stackName}.assets.json`));
  const assetDirectories = new Map(
    Object.entries(assets.files ?? {}).map(([hash, file]) => [
      hash,
      path.join(outdir, file.source.path),
    ]),
  );
  return {
    stackName,
    template: readJson<CfnTemplate>(path.join(outdir, templateFile)),
    templateFile: path.join(outdir, templateFile),
    outdir,
    assetDirectories,
  };
};
