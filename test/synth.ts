import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cdkJson from '../cdk.json';
import { loadStageConfig, type Stage } from '../lib/config';
import { CustomerPipelineStack } from '../lib/customer-pipeline-stack';

/** A fixed environment: tests never read the machine's AWS account or region. */
export const TEST_ENV = { account: '123456789012', region: 'eu-west-1' } as const;

export interface SynthOptions {
  /** Extra context, over cdk.json's (e.g. `{ alarmEmail: 'ops@example.com' }`). */
  readonly context?: Record<string, unknown>;
  /**
   * Run esbuild for every function. Off by default: the assertions are about the
   * template, and the bundle itself is tested once, by the bundling test.
   */
  readonly bundle?: boolean;
  /**
   * Where to write the cloud assembly.
   * @default - a temporary directory
   */
  readonly outdir?: string;
}

/** Synthesizes the pipeline stack for `stage` the way `bin/app.ts` does, with cdk.json's context. */
export const synthPipeline = (stage: Stage, options: SynthOptions = {}) => {
  const app = new App({
    outdir: options.outdir,
    context: {
      ...cdkJson.context,
      stage,
      ...options.context,
      // Bundling writes the asset path into each function's metadata, for the bundle test.
      ...(options.bundle
        ? { 'aws:cdk:enable-asset-metadata': true }
        : { 'aws:cdk:bundling-stacks': [] }),
    },
  });
  const config = loadStageConfig(app.node);
  const stack = new CustomerPipelineStack(app, `CustomerPipeline-${stage}`, {
    config,
    env: TEST_ENV,
  });
  return { app, stack, config, template: Template.fromStack(stack) };
};

/**
 * Replaces content hashes with a fixed token: asset keys and bundle hashes, and the hash CDK
 * appends to a function version's logical id (`<fn>CurrentVersion<8 hex><32 hex>`), which follows
 * the function's code, so that every change of a handler would otherwise change the snapshot.
 */
export const normaliseAssetHashes = (value: unknown): unknown =>
  JSON.parse(
    JSON.stringify(value)
      .replace(/[0-9a-f]{64}/g, '[ASSET HASH]')
      .replace(/(CurrentVersion[0-9A-F]{8})[0-9a-f]{32}\b/g, '$1[CODE HASH]'),
  );
