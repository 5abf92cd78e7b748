import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { launchCustomerPipeline } from '../../local/launch';

/** Short enough that three receives of a failing message take seconds. */
export const E2E_TIME_SCALE = '0.02';
/**
 * Lambda's shortest maximum record age (the time scale does not shrink it), so the stream's
 * on-failure path is reached in a minute rather than the stage's 12 hours.
 */
export const E2E_STREAM_RECORD_AGE_SECONDS = '60';

/**
 * The suite's stage settings over dev's. Prod's shape: every mapping and route invokes its
 * function's `live` alias (canary deploys; CodeDeploy itself is not emulated). The ordering
 * test's cloud keeps dev's.
 */
export const E2E_CONTEXT = {
  streamMaxRecordAgeSeconds: E2E_STREAM_RECORD_AGE_SECONDS,
  deployment: 'canary',
};

declare global {
  // Handed from setup to teardown, which run in the same process.
  var __LOCAL_CLOUD__: { child: ChildProcess; dir: string } | undefined;
}

/** Starts the local cloud the whole suite uses, and tells the tests where it is. */
export default async function globalSetup(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'customer-pipeline-e2e-'));
  const { child, stateFile, logFile } = await launchCustomerPipeline({
    dir,
    timeScale: E2E_TIME_SCALE,
    context: E2E_CONTEXT,
    // aws-cdk-lib's CloudFormation rules take a third of the synth (their engine's start):
    // the suite checks behaviour, and `cdk synth` in CI (.ci/run) checks the rules.
    env: { CDK_VALIDATION: 'false' },
  });
  globalThis.__LOCAL_CLOUD__ = { child, dir };
  process.env.LOCAL_CLOUD_STATE = stateFile;
  process.env.LOCAL_CLOUD_LOG = logFile;
}
