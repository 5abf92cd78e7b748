/**
 * Where an operations command acts: the running local cloud (its state file) or a
 * deployed stack (`--stack`, found through CloudFormation), and the synthesized
 * template that says what the stack holds. `npm run dlq` and `npm run repair-deleted`
 * share it.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { CloudFormationClient, paginateListStackResources } from '@aws-sdk/client-cloudformation';
import {
  type CfnTemplate,
  DEFAULT_STATE_FILE,
  emulatorClientConfig,
  type LocalCloudState,
  readLocalCloudState,
} from 'cdk-local-cloud';
import * as z from 'zod';
import { findResource, type ResourceRole } from '../lib/resource-names';
import type { CommandIo } from './command';

/** Finds the physical ids of a stack's resources: for a queue, its URL; for a table, its name. */
export interface ResourceLocator {
  physicalIds(): Promise<ReadonlyMap<string, string>>;
}

/** The running local cloud's resources, from its state file. */
export const localCloudLocator = (state: Pick<LocalCloudState, 'resources'>): ResourceLocator => ({
  physicalIds: async () =>
    new Map(Object.entries(state.resources).map(([id, resource]) => [id, resource.ref])),
});

/** A deployed stack's resources, from CloudFormation's ListStackResources. */
export const cloudFormationLocator = (stackName: string, region?: string): ResourceLocator => ({
  physicalIds: async () => {
    const client = new CloudFormationClient({ region });
    const ids = new Map<string, string>();
    try {
      for await (const page of paginateListStackResources({ client }, { StackName: stackName })) {
        for (const summary of page.StackResourceSummaries ?? []) {
          if (summary.LogicalResourceId && summary.PhysicalResourceId) {
            ids.set(summary.LogicalResourceId, summary.PhysicalResourceId);
          }
        }
      }
    } finally {
      client.destroy();
    }
    return ids;
  },
});

/** The target options every operations command takes, for its usage text. */
export const TARGET_USAGE = `target (default: the running local cloud, from $LOCAL_CLOUD_STATE or ${DEFAULT_STATE_FILE}):
  --state-file <file>           another local cloud state file
  --stack <name>                a deployed stack (e.g. CustomerPipeline-prod), found through CloudFormation
  --region <region>             the deployed stack's region (default: the AWS SDK's)
  --template <file>             the synthesized template (default: the local cloud's own synth,
                                cdk.out/ next to its state file, else cdk.out/<stack>.template.json)`;

/** `parseArgs` options for `TARGET_USAGE`. */
export const TARGET_OPTIONS = {
  stack: { type: 'string' },
  region: { type: 'string' },
  template: { type: 'string' },
  'state-file': { type: 'string' },
} as const;

export interface TargetOptions {
  readonly stack?: string;
  readonly region?: string;
  readonly template?: string;
  readonly 'state-file'?: string;
}

export interface StackTarget {
  readonly stackName: string;
  readonly locator: ResourceLocator;
  /** For every SDK client of the command: the emulator's endpoint and credentials, or the region. */
  readonly clientConfig: { readonly region?: string };
  readonly template: CfnTemplate;
}

/** Checks what the commands rely on; the rest (outputs, parameters) is kept as it is. */
const templateSchema = z.looseObject({
  Resources: z.record(z.string(), z.looseObject({ Type: z.string() })),
});

const readTemplate = async (file: string): Promise<CfnTemplate> => {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new Error(`no synthesized template at ${file}: run \`npx cdk synth\` first`);
  }
  return templateSchema.parse(JSON.parse(text)) as CfnTemplate;
};

/** The local cloud or deployed stack `options` name, and its template. */
export const openTarget = async (
  options: TargetOptions,
  io: Pick<CommandIo, 'env' | 'cwd'>,
): Promise<StackTarget> => {
  let target: Omit<StackTarget, 'template'>;
  let candidates: string[];
  if (options.stack) {
    target = {
      stackName: options.stack,
      locator: cloudFormationLocator(options.stack, options.region),
      clientConfig: { region: options.region },
    };
    candidates = [path.join('cdk.out', `${options.stack}.template.json`)];
  } else {
    const stateFile = path.resolve(
      io.cwd,
      options['state-file'] ?? io.env.LOCAL_CLOUD_STATE ?? DEFAULT_STATE_FILE,
    );
    const state = await readLocalCloudState(stateFile);
    target = {
      stackName: state.stackName,
      locator: localCloudLocator(state),
      clientConfig: emulatorClientConfig(state),
    };
    candidates = [state.templateFile];
  }
  if (options.template) candidates = [options.template];
  const files = candidates.map((file) => path.resolve(io.cwd, file));
  const templateFile = files.find((file) => existsSync(file)) ?? files[files.length - 1] ?? '';
  return { ...target, template: await readTemplate(templateFile) };
};

/**
 * The physical id of the resource a template output `Ref`s: the stack's outputs name
 * what operators need (`TableName`, `AssetsBucketName`, `MarketingContactsBucketName`),
 * locally and deployed alike.
 */
export const resourceOfOutput = async (target: StackTarget, output: string): Promise<string> => {
  const value = target.template.Outputs?.[output]?.Value as { Ref?: unknown } | undefined;
  if (typeof value?.Ref !== 'string') {
    throw new Error(`the template has no output ${output} that names a resource`);
  }
  const id = (await target.locator.physicalIds()).get(value.Ref);
  if (!id) throw new Error(`the stack has no resource ${value.Ref}: is it the same template?`);
  return id;
};

/** The physical id of the resource the constructs named `name` with `role` (lib/resource-names.ts). */
export const namedResourceOf = async (
  target: StackTarget,
  name: string,
  role: ResourceRole,
): Promise<string> => {
  const logicalId = findResource(target.template, name, role);
  const id = (await target.locator.physicalIds()).get(logicalId);
  if (!id) throw new Error(`the stack has no resource ${logicalId}: is it the same template?`);
  return id;
};
