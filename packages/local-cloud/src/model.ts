/**
 * The local cloud's shared vocabulary: the synthesized template as it reads it,
 * the physical resources it provisions from it, and the state file other tools
 * (an app's scripts and end-to-end tests) read to find them.
 */

/** A resource of a synthesized CloudFormation template. */
export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DependsOn?: string | readonly string[];
  readonly Metadata?: Record<string, unknown>;
  readonly Condition?: string;
  /**
   * What CloudFormation (and, for an alias, CodeDeploy) does on an update or a deletion: the
   * local cloud creates once and never deletes, so it reads none of these.
   */
  readonly UpdatePolicy?: Record<string, unknown>;
  readonly UpdateReplacePolicy?: string;
  readonly DeletionPolicy?: string;
}

export interface CfnTemplate {
  readonly Resources: Record<string, CfnResource>;
  readonly Outputs?: Record<string, { readonly Value: unknown }>;
  readonly Parameters?: Record<string, { readonly Default?: unknown }>;
  readonly Conditions?: Record<string, unknown>;
}

/** What a provisioned resource answers to: `Ref` and `Fn::GetAtt`. */
export interface PhysicalResource {
  readonly logicalId: string;
  readonly type: string;
  /** What `{ Ref: logicalId }` resolves to (a name, a URL or an ARN, by type). */
  readonly ref: string;
  /** What `{ 'Fn::GetAtt': [logicalId, name] }` resolves to. */
  readonly attributes: Readonly<Record<string, string>>;
  /** The construct path (`aws:cdk:path`), e.g. `MyStack/Orders/Queue/Resource`. */
  readonly constructPath?: string;
}

/** Written by the running local cloud; read by the tools that talk to it. */
export interface LocalCloudState {
  readonly stackName: string;
  readonly region: string;
  readonly accountId: string;
  /** The AWS endpoint (moto) every SDK client of the tools should use. */
  readonly endpoint: string;
  /** The HTTP API's base URL, without a trailing slash. */
  readonly apiUrl: string;
  /** The base URL of each local stand-in the app runs beside its cloud, by name. */
  readonly sidecars: Readonly<Record<string, string>>;
  /** The local cloud's control API (invoke a function, inject faults, read call counts). */
  readonly controlUrl: string;
  readonly timeScale: number;
  /** The synthesized template it runs. */
  readonly templateFile: string;
  readonly resources: Readonly<Record<string, PhysicalResource>>;
  /** The process serving it, so tools can tell a stale file from a live cloud. */
  readonly pid: number;
}

/** Credentials and region every client of the emulator uses; moto accepts any. */
export const LOCAL_ACCOUNT_ID = '123456789012';
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
} as const;

/** Where the CLI writes its state unless told otherwise (`--state-file`, `LOCAL_CLOUD_STATE`). */
export const DEFAULT_STATE_FILE = '.local-cloud/state.json';

/** What one Lambda invocation came to: its result, or the error it failed with. */
export type InvokeOutcome =
  | { readonly ok: true; readonly payload: unknown }
  | {
      readonly ok: false;
      readonly error: { readonly errorType: string; readonly errorMessage: string };
    };

/** Something that can be invoked like a Lambda function. */
export interface LambdaInvoker {
  invoke(event: unknown): Promise<InvokeOutcome>;
}
