import { LOCAL_ACCOUNT_ID } from '../model';
import type { RoleEnforcer } from './enforcer';
import type { AuthorizationRequest } from './types';

/**
 * What Lambda itself does with a function's role, checked as Lambda checks it. The
 * pollers of an event source mapping read the queue or the stream with the function's
 * role, and Lambda refuses to create a mapping whose role cannot: CloudFormation's deploy
 * fails. The runtime writes the function's logs (and, with active tracing, its traces)
 * with the role too, creating the log group first when the template does not define it
 * (CDK's own providers, say); without the permission the function still runs and the logs are lost.
 * All of these are the platform's uses in the report, never "unused".
 */

const request = (action: string, resource: string, region: string): AuthorizationRequest => ({
  action,
  resource,
  context: {
    'aws:SecureTransport': 'true',
    'aws:RequestedRegion': region,
    'aws:ResourceAccount': LOCAL_ACCOUNT_ID,
    // Every resource the local cloud runs is in its one account; S3 sets its own spelling of the owner's account too (CDK's grants condition on it).
    ...(action.startsWith('s3:') ? { 's3:ResourceAccount': LOCAL_ACCOUNT_ID } : {}),
  },
});

/** The actions Lambda's mapping needs of its source, by source type, as its creation checks them. */
const MAPPING_ACTIONS = {
  sqs: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
  stream: [
    'dynamodb:DescribeStream',
    'dynamodb:GetRecords',
    'dynamodb:GetShardIterator',
    'dynamodb:ListStreams',
  ],
} as const;

/** What the role lacks for a mapping, as Lambda's error on creating it names it; undefined when nothing. */
export const mappingDenial = (
  enforcer: RoleEnforcer,
  source: { readonly kind: 'sqs' | 'stream'; readonly arn: string },
  region: string,
): string | undefined => {
  const missing: string[] = [];
  for (const action of MAPPING_ACTIONS[source.kind]) {
    // ListStreams names no stream: IAM authorizes it on `*`.
    const resource = action === 'dynamodb:ListStreams' ? '*' : source.arn;
    const verdict = enforcer.check(
      action.split(':')[1] ?? action,
      [request(action, resource, region)],
      'platform',
    );
    if (!verdict.allowed) missing.push(action);
  }
  if (missing.length === 0) return undefined;
  return `its function's role does not allow ${missing.join(', ')} on ${source.arn}`;
};

/**
 * What the role lacks to write to a mapping's on-failure destination; undefined when nothing.
 * An S3 destination needs `s3:ListBucket` on the bucket besides `s3:PutObject` (AWS's
 * requirement for the execution role).
 */
export const destinationDenial = (
  enforcer: RoleEnforcer,
  writes: readonly { readonly action: string; readonly resource: string }[],
  region: string,
): string | undefined => {
  const missing = writes.filter(
    (write) =>
      !enforcer.check(
        write.action.split(':')[1] ?? write.action,
        [request(write.action, write.resource, region)],
        'platform',
      ).allowed,
  );
  return missing.length === 0
    ? undefined
    : `its function's role does not allow ${missing.map((w) => `${w.action} on ${w.resource}`).join(', ')}`;
};

/** What the runtime could not write with the role (logs, traces); empty when it can write all. */
export const runtimeDenials = (
  enforcer: RoleEnforcer,
  fn: {
    readonly logGroup: string;
    /** Whether the template defines the log group; if not, Lambda creates it with the role. */
    readonly ownLogGroup: boolean;
    readonly tracing: boolean;
  },
  where: { readonly region: string; readonly accountId: string },
): string[] => {
  const group = `arn:aws:logs:${where.region}:${where.accountId}:log-group:${fn.logGroup}`;
  const stream = `${group}:log-stream:local`;
  const wanted = [
    ...(fn.ownLogGroup ? [] : [request('logs:CreateLogGroup', group, where.region)]),
    request('logs:CreateLogStream', stream, where.region),
    request('logs:PutLogEvents', stream, where.region),
    ...(fn.tracing
      ? [
          request('xray:PutTraceSegments', '*', where.region),
          request('xray:PutTelemetryRecords', '*', where.region),
        ]
      : []),
  ];
  return wanted
    .filter((r) => !enforcer.check(r.action.split(':')[1] ?? r.action, [r], 'platform').allowed)
    .map((r) => `${r.action} on ${r.resource}`);
};
