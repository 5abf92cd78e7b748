import type { Node } from 'constructs';

export const STAGES = ['dev', 'prod'] as const;
export type Stage = (typeof STAGES)[number];

/**
 * How events are ordered: `standard` (a standard topic and queues; the consumers' version
 * checks make any order safe) or `perCustomer` (a FIFO topic and queues, each customer a
 * message group: each consumer sees a customer's events in order).
 */
export const ORDERINGS = ['standard', 'perCustomer'] as const;
export type Ordering = (typeof ORDERINGS)[number];

/**
 * How a new version of the functions takes traffic: `allAtOnce` (every invocation at once), or
 * `canary` (each function's `live` alias moves through CodeDeploy, 10% for five minutes, and
 * rolls back when the new version's alarms fire).
 */
export const DEPLOYMENTS = ['allAtOnce', 'canary'] as const;
export type Deployment = (typeof DEPLOYMENTS)[number];

/** Everything that differs between stages. The values live in cdk.json (`customerPipeline`). */
export interface StageConfig {
  readonly stage: Stage;
  /** The notification provider's HTTPS endpoint the welcome consumer POSTs to (dev: or loopback HTTP). */
  readonly notificationEndpoint: string;
  /** Browser origins allowed to POST avatars to the bucket through presigned forms. */
  readonly corsAllowedOrigins: readonly string[];
  /** Days a replaced avatar's old version is kept before S3 expires it. */
  readonly avatarNoncurrentVersionExpirationDays: number;
  /** The largest avatar upload the presigned form's policy accepts, in bytes (at most 20 MiB). */
  readonly avatarMaxBytes: number;
  /** Retention of every log group the stack creates. */
  readonly logRetentionDays: number;
  /** Steady-state and burst request limits of the API's default stage. */
  readonly apiThrottle: { readonly rateLimit: number; readonly burstLimit: number };
  /**
   * Oldest stream record the publisher's mapping still retries; older ones go to the failure
   * bucket. Lambda's minimum is 60 s; the stream keeps records 24 h.
   */
  readonly streamMaxRecordAgeSeconds: number;
  /** Where alarm notifications go; `undefined` leaves the alarm topic without subscribers. */
  readonly alarmEmail?: string;
  /** `prod` keeps data on stack deletion and turns on deletion protection. */
  readonly retainData: boolean;
  /** Event ordering (`ORDERINGS`); switching it replaces the topic and every consumer queue. */
  readonly ordering: Ordering;
  /** How new function versions take traffic (`DEPLOYMENTS`). */
  readonly deployment: Deployment;
}

const isStage = (value: unknown): value is Stage => STAGES.includes(value as Stage);

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * The welcome consumer sends the provider's API key as a bearer token: only over TLS, but for
 * the local cloud's sink on this machine's loopback, and in prod only on the local cloud
 * (`-c localCloud=true`, which `npm start` passes): a deployed function's loopback has no sink.
 */
const isSafeEndpoint = (value: unknown, stage: Stage, localCloud: boolean): value is string => {
  if (typeof value !== 'string') return false;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol === 'https:') return true;
  return (
    url.protocol === 'http:' && (stage !== 'prod' || localCloud) && LOOPBACK_HOSTS.has(url.hostname)
  );
};

const fail = (message: string): never => {
  throw new Error(`Invalid configuration: ${message}`);
};

/** An avatar larger than this is not an avatar: the function that processes one reads it whole. */
const MAX_AVATAR_BYTES = 20 * 1024 * 1024;

/** Lambda refuses a shorter maximum record age. */
const MIN_STREAM_RECORD_AGE_SECONDS = 60;
/**
 * Four hours before the stream trims a record (24 h): a record must reach the failure
 * bucket, payload and all, while the mapping can still read it.
 */
const MAX_STREAM_RECORD_AGE_SECONDS = 20 * 60 * 60;

/**
 * Reads the stage (`-c stage=prod`, default `dev`) and its settings from context.
 * A single value can be overridden on the command line, e.g.
 * `-c notificationEndpoint=https://…`, `-c alarmEmail=ops@example.com` or
 * `-c streamMaxRecordAgeSeconds=60` (the end-to-end tests' short record age),
 * `-c ordering=perCustomer` or `-c deployment=allAtOnce`.
 */
export const loadStageConfig = (node: Node): StageConfig => {
  const stage = node.tryGetContext('stage') ?? 'dev';
  if (!isStage(stage)) fail(`stage must be one of ${STAGES.join(', ')}, got "${stage}"`);
  const stages = node.tryGetContext('customerPipeline') ?? {};
  const settings: Record<string, unknown> = { ...stages[stage] };
  for (const key of [
    'notificationEndpoint',
    'alarmEmail',
    'streamMaxRecordAgeSeconds',
    'ordering',
    'deployment',
  ]) {
    const override = node.tryGetContext(key);
    if (override !== undefined) settings[key] = override;
  }

  const endpoint = settings.notificationEndpoint;
  const localCloud = String(node.tryGetContext('localCloud')) === 'true';
  if (!isSafeEndpoint(endpoint, stage, localCloud)) {
    fail(
      `customerPipeline.${stage}.notificationEndpoint must be an https:// URL` +
        (stage === 'prod' ? '' : ' (or http:// to a loopback address, for the local cloud)'),
    );
  }
  const origins = settings.corsAllowedOrigins;
  if (!Array.isArray(origins) || !origins.every((o) => typeof o === 'string')) {
    fail(`customerPipeline.${stage}.corsAllowedOrigins must be a list of origins`);
  }
  const positive = (key: string): number => {
    const value = settings[key];
    return typeof value === 'number' && Number.isInteger(value) && value > 0
      ? value
      : fail(`customerPipeline.${stage}.${key} must be a positive integer`);
  };
  // A -c override arrives as a string.
  const recordAge = Number(settings.streamMaxRecordAgeSeconds ?? Number.NaN);
  if (
    !Number.isInteger(recordAge) ||
    recordAge < MIN_STREAM_RECORD_AGE_SECONDS ||
    recordAge > MAX_STREAM_RECORD_AGE_SECONDS
  ) {
    fail(
      `customerPipeline.${stage}.streamMaxRecordAgeSeconds must be a whole number of seconds from ` +
        `${MIN_STREAM_RECORD_AGE_SECONDS} to ${MAX_STREAM_RECORD_AGE_SECONDS}, got "${String(settings.streamMaxRecordAgeSeconds)}"`,
    );
  }
  const ordering = settings.ordering ?? 'standard';
  if (!ORDERINGS.includes(ordering as Ordering)) {
    fail(`ordering must be one of ${ORDERINGS.join(', ')}, got "${String(ordering)}"`);
  }
  const deployment = settings.deployment ?? 'allAtOnce';
  if (!DEPLOYMENTS.includes(deployment as Deployment)) {
    fail(`deployment must be one of ${DEPLOYMENTS.join(', ')}, got "${String(deployment)}"`);
  }
  const alarmEmail = settings.alarmEmail;
  if (alarmEmail !== undefined && (typeof alarmEmail !== 'string' || !alarmEmail.includes('@'))) {
    fail('alarmEmail must be an email address');
  }

  return {
    stage,
    notificationEndpoint: endpoint as string,
    corsAllowedOrigins: origins as string[],
    avatarNoncurrentVersionExpirationDays: positive('avatarNoncurrentVersionExpirationDays'),
    avatarMaxBytes:
      positive('avatarMaxBytes') <= MAX_AVATAR_BYTES
        ? positive('avatarMaxBytes')
        : fail(`customerPipeline.${stage}.avatarMaxBytes must be at most ${MAX_AVATAR_BYTES}`),
    logRetentionDays: positive('logRetentionDays'),
    apiThrottle: { rateLimit: positive('apiRateLimit'), burstLimit: positive('apiBurstLimit') },
    streamMaxRecordAgeSeconds: recordAge,
    alarmEmail: alarmEmail as string | undefined,
    retainData: stage === 'prod',
    ordering: ordering as Ordering,
    deployment: deployment as Deployment,
  };
};
