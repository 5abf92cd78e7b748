import * as fs from 'node:fs';
import type { CfnTemplate } from 'cdk-local-cloud';
import {
  findResource,
  invokedFunctionId,
  namedResources,
  resourcesWithRole,
} from '../../lib/resource-names';

/** The synthesized template a local cloud runs (its state's `templateFile`). */
export const readTemplateFile = (file: string): CfnTemplate =>
  JSON.parse(fs.readFileSync(file, 'utf8')) as CfnTemplate;

/** What the benchmark reads and counts in a running pipeline, each found by its one name. */
export interface PipelineResources {
  readonly assetsBucket: string;
  readonly contactsBucket: string;
  /** Every consumer's dead-letter queue and its subscription's. */
  readonly deadLetterQueues: readonly string[];
  /** The name of a function or queue by its logical id (the id itself if it has none). */
  readonly nameOf: (logicalId: string) => string;
}

/** The resources of `template` the benchmark uses, each given as `physical` resolves its logical id. */
export const pipelineResources = (
  template: CfnTemplate,
  physical: (logicalId: string) => string,
): PipelineResources => {
  const names = namedResources(template);
  return {
    assetsBucket: physical(findResource(template, 'assets', 'bucket')),
    contactsBucket: physical(findResource(template, 'marketing-contacts', 'bucket')),
    deadLetterQueues: (['dead-letter-queue', 'subscription-dead-letter-queue'] as const).flatMap(
      (role) => [...resourcesWithRole(template, role).values()].map(physical),
    ),
    nameOf: (logicalId) => names.get(logicalId)?.name ?? logicalId,
  };
};

export interface FunctionConfig {
  /** The function's one name, its folder under lambda/: api, stream-publisher, welcome, … */
  readonly name: string;
  readonly logicalId: string;
  readonly memoryMB: number;
  readonly architecture: string;
  readonly timeoutSeconds: number;
}

export interface MappingConfig {
  /** The name of the function the mapping invokes. */
  readonly fn: string;
  readonly source: 'stream' | 'sqs';
  /**
   * The name of the queue an SQS mapping reads (a consumer's goes by its function's name; the
   * avatar function also reads `avatar-uploads`). Absent for the stream, and in results from
   * before it was recorded.
   */
  readonly queue?: string;
  readonly batchSize: number;
  /** As deployed, not time-scaled. */
  readonly windowSeconds: number;
  /**
   * The queue is SQS FIFO (a `perCustomer` stage's consumer queues): billed at FIFO's request
   * price, and fed by the FIFO topic. Absent for a standard queue and for the stream.
   */
  readonly fifo?: true;
}

/**
 * Memory, architecture and event source settings of each named function, from the
 * synthesized template; functions the app does not name (CDK's own) are left out.
 */
export const readTemplate = (
  template: CfnTemplate,
): { functions: FunctionConfig[]; mappings: MappingConfig[] } => {
  const functions = [...resourcesWithRole(template, 'function')].map(
    ([name, logicalId]): FunctionConfig => {
      const p = template.Resources[logicalId]?.Properties ?? {};
      const architectures = (p.Architectures as string[] | undefined) ?? ['x86_64'];
      return {
        name,
        logicalId,
        memoryMB: Number(p.MemorySize ?? 128),
        architecture: architectures[0] ?? 'x86_64',
        timeoutSeconds: Number(p.Timeout ?? 3),
      };
    },
  );
  const functionNames = new Map(functions.map((f) => [f.logicalId, f.name]));
  const names = namedResources(template);
  const mappings: MappingConfig[] = [];
  for (const r of Object.values(template.Resources)) {
    if (r.Type !== 'AWS::Lambda::EventSourceMapping') continue;
    const p = r.Properties ?? {};
    const fn = functionNames.get(invokedFunctionId(template.Resources, p.FunctionName) ?? '');
    if (fn === undefined) continue;
    const source = JSON.stringify(p.EventSourceArn ?? '').includes('StreamArn') ? 'stream' : 'sqs';
    const queueId = (p.EventSourceArn as { 'Fn::GetAtt'?: [string, string] } | undefined)?.[
      'Fn::GetAtt'
    ]?.[0];
    const queue = source === 'sqs' && queueId !== undefined ? names.get(queueId)?.name : undefined;
    // A template boolean, as CloudFormation takes it: true or the string.
    const fifoQueue =
      queueId === undefined ? undefined : template.Resources[queueId]?.Properties?.FifoQueue;
    const fifo = fifoQueue === true || fifoQueue === 'true';
    mappings.push({
      fn,
      source,
      ...(queue === undefined ? {} : { queue }),
      ...(fifo ? { fifo: true as const } : {}),
      batchSize: Number(p.BatchSize ?? (source === 'stream' ? 100 : 10)),
      windowSeconds: Number(p.MaximumBatchingWindowInSeconds ?? 0),
    });
  }
  return { functions, mappings };
};
