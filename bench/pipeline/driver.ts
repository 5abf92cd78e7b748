import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { LocalCloudState } from 'cdk-local-cloud';
import {
  deliveries,
  emulatorClientConfig,
  functionCalls,
  readLocalCloudState,
  stopLocalCloud,
} from 'cdk-local-cloud';
import { versionPages } from '../../lambda/shared/adapters/s3-versions';
import { launchCustomerPipeline } from '../../local/launch';
import { type PipelineResources, pipelineResources, readTemplateFile } from './template';

// The local cloud, as the end-to-end suite starts it, and what the benchmark asks of it.

/** The end-to-end suite's scale: SQS batching windows of 20 ms, visibility timeouts of seconds. */
export const TIME_SCALE = '0.02';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

export interface Cloud extends PipelineResources {
  readonly state: LocalCloudState;
  /** The template it runs: every tool finds a resource in it by its one name. */
  readonly template: ReturnType<typeof readTemplateFile>;
  readonly logDir: string;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  stop(): Promise<void>;
}

/** How a benchmark's cloud is launched, beyond the time scale every one shares. */
export interface CloudLaunch {
  /** `-c` context for its synth, e.g. `{ ordering: 'perCustomer' }`. @default - cdk.json's */
  readonly context?: Readonly<Record<string, string>>;
}

const startCloud = async (
  log: (line: string) => void,
  { context }: CloudLaunch = {},
): Promise<Cloud> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'customer-pipeline-bench-'));
  const removeDir = () => fs.rmSync(dir, { recursive: true, force: true });
  const given = Object.entries(context ?? {}).map(([key, value]) => ` -c ${key}=${value}`);
  log(`starting the local cloud (time scale ${TIME_SCALE}${given.join('')}) in ${dir} …`);
  const { child, stateFile, workDir } = await launchCustomerPipeline({
    dir,
    timeScale: TIME_SCALE,
    ...(context === undefined ? {} : { context }),
  }).catch((error: unknown) => {
    removeDir();
    throw error;
  });
  const stop = async () => {
    await stopLocalCloud(child);
    removeDir();
  };
  try {
    const state = await readLocalCloudState(stateFile);
    const config = emulatorClientConfig(state);
    const template = readTemplateFile(state.templateFile);
    const physical = (logicalId: string): string => {
      const resource = state.resources[logicalId];
      if (resource === undefined) throw new Error(`the local cloud did not provision ${logicalId}`);
      return resource.ref;
    };
    return {
      state,
      template,
      logDir: path.join(workDir, 'logs'),
      s3: new S3Client(config),
      sqs: new SQSClient(config),
      ...pipelineResources(template, physical),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
};

/** Runs `body` on a fresh local cloud, launched as `launch` says, and stops it after. */
export const withCloud = async <T>(
  log: (line: string) => void,
  body: (cloud: Cloud) => Promise<T>,
  launch: CloudLaunch = {},
): Promise<T> => {
  const cloud = await startCloud(log, launch);
  try {
    return await body(cloud);
  } finally {
    await cloud.stop();
  }
};

/** How many versions each key under `prefix` of `bucket` has (delete markers not counted). */
export const versionsUnder = async (
  cloud: Cloud,
  bucket: string,
  prefix: string,
): Promise<Map<string, { versions: number }>> => {
  const keys = new Map<string, { versions: number }>();
  for await (const page of versionPages(cloud.s3, bucket, prefix)) {
    for (const v of page.Versions ?? []) {
      if (v.Key) keys.set(v.Key, { versions: (keys.get(v.Key)?.versions ?? 0) + 1 });
    }
  }
  return keys;
};

export const deadLetterCount = async (cloud: Cloud): Promise<number> => {
  let total = 0;
  for (const url of cloud.deadLetterQueues) {
    const { Attributes } = await cloud.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    total +=
      Number(Attributes?.ApproximateNumberOfMessages ?? 0) +
      Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  }
  return total;
};

/** Polls until `settled` holds and no function has made a call for `quietMs`. */
export const waitForSettled = async (
  cloud: Cloud,
  what: string,
  settled: () => Promise<boolean>,
  { quietMs = 1000, timeoutMs = 60_000 } = {},
): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  let seen = -1;
  let changedAt = Date.now();
  for (;;) {
    const count = (await functionCalls(cloud)).length + (await deliveries(cloud)).length;
    if (count !== seen) {
      seen = count;
      changedAt = Date.now();
    }
    if (Date.now() - changedAt >= quietMs && (await settled())) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
};

let customerCounter = 0;
export const newCustomer = (marketingOptIn: boolean) => {
  customerCounter += 1;
  const unique = `${Date.now().toString(36)}-${customerCounter}`;
  return {
    fullName: `Bench Customer ${unique}`,
    email: `bench-${unique}@example.com`,
    dateOfBirth: '1990-05-17',
    marketingOptIn,
  };
};
