/**
 * cdk-local-cloud: runs a synthesized AWS CDK app on moto's server, on one machine.
 * This is the package's public surface; everything else in src/ is internal.
 */
export type { SynthesizedStack } from './assembly';
export type { AwsCall, Fault } from './aws-proxy';
export { DYNAMODB_WRITES } from './aws-proxy';
export type { AppProfile, CliIo } from './cli';
export { runLocalCloudCli, runLocalCloudCliProcess } from './cli';
export type { ApiResponse } from './client';
export { callApi, control, deliveries, functionCalls } from './client';
export type { LocalCloudOptions, RunningLocalCloud, Sidecar } from './cloud';
export { startLocalCloud } from './cloud';
export type { Delivery } from './control-api';
export type { MessageLabel } from './flow-tracker';
export type { FunctionIamReport, IamMode, RoleEnforcer, Verdict } from './iam/enforcer';
export { describeReport, templateRoleEnforcer } from './iam/enforcer';
export type { AuthorizationRequest } from './iam/types';
export type { ResolveContext } from './intrinsics';
export type { LaunchedLocalCloud, LaunchOptions } from './launch';
export { launchLocalCloud, stopLocalCloud } from './launch';
export type {
  CfnResource,
  CfnTemplate,
  InvokeOutcome,
  LocalCloudState,
  PhysicalResource,
} from './model';
export { DEFAULT_STATE_FILE, LOCAL_ACCOUNT_ID, LOCAL_REGION } from './model';
export type { RunningMoto } from './moto';
export { MotoNotInstalled, startMoto } from './moto';
export { closeServer, listenOnLoopback, readBody, sleep, waitFor } from './net';
export { hideSdkNodeVersionWarning } from './runtime/quiet-warnings.cjs';
export { emulatorClientConfig, LocalCloudNotRunning, readLocalCloudState } from './state';
export type { CodeWatch, FunctionBundler } from './watch';
