import type { ProxyAuthorization, ProxyIam, WireCall } from '../aws-proxy';
import type { AwsError } from '../faults';
import { accessDeniedMessage, type RoleEnforcer } from './enforcer';
import { asList } from './evaluate';
import { authorizationRequests, readsBody, type Where } from './requests';
import type { AuthorizationRequest, PolicyStatement } from './types';

/** How each service says "access denied" (its error code and status). */
const accessDenied = (service: string, message: string): AwsError => {
  switch (service) {
    case 's3':
      return { status: 403, code: 'AccessDenied', message };
    case 'sns':
      return { status: 403, code: 'AuthorizationError', message };
    case 'sqs':
      return { status: 403, code: 'AccessDenied', message };
    default:
      // DynamoDB (and its streams), Secrets Manager and the other JSON services.
      return { status: 400, code: 'AccessDeniedException', message };
  }
};

const S3_READS = new Set(['GetObject', 'HeadObject']);

/** The bucket's ARN from an object request's resource (`arn:aws:s3:::bucket/key`). */
const bucketArnOf = (objectArn: string): string =>
  objectArn.replace(/^(arn:[^:]+:s3:::[^/]+)\/.*$/, '$1');

/**
 * A function's proxy's IAM: each call mapped to what AWS authorizes for it
 * (src/iam/requests.ts) and evaluated against the function's role (src/iam/enforcer.ts).
 */
/** What the proxy knows of the cloud besides the call: which KMS key encrypts each topic. */
export interface CloudKeys {
  /** The ARN of the KMS key a topic is encrypted with (`KmsMasterKeyId`), if it is. */
  readonly topicKey?: (topicArn: string) => string | undefined;
}

/**
 * The KMS requests a service makes with its caller's credentials: SNS publishing to a topic
 * encrypted with a customer managed key asks KMS for a data key (and decrypts it) as the
 * publisher, so the publisher's role needs `kms:GenerateDataKey*` and `kms:Decrypt` on the key.
 */
const onBehalf = (
  call: WireCall,
  requests: readonly AuthorizationRequest[],
  keys: CloudKeys,
): AuthorizationRequest[] => {
  if (call.service !== 'sns' || keys.topicKey === undefined) return [];
  return requests.flatMap((request) => {
    if (request.action !== 'sns:Publish') return [];
    const key = keys.topicKey?.(request.resource);
    if (key === undefined) return [];
    const context = {
      'aws:SecureTransport': 'true',
      'kms:ViaService': `sns.${String(request.context['aws:RequestedRegion'] ?? 'us-east-1')}.amazonaws.com`,
    };
    return [
      { action: 'kms:GenerateDataKey', resource: key, context },
      { action: 'kms:Decrypt', resource: key, context },
    ];
  });
};

export const proxyIam = (enforcer: RoleEnforcer, where: Where, keys: CloudKeys = {}): ProxyIam => {
  const conditionKeys = conditionKeysOf(enforcer);
  return {
    readsBody: (call) => enforcer.mode !== 'off' && readsBody(call),
    authorize: (call) => authorize(enforcer, where, conditionKeys, keys, call),
  };
};

/** Every condition key the role's policies, or the resources' own, test, in lower case (IAM compares them so). */
const conditionKeysOf = (enforcer: RoleEnforcer): Set<string> => {
  const keys = new Set<string>();
  for (const policy of [...enforcer.role.policies, ...(enforcer.resources?.policies.all ?? [])]) {
    for (const statement of asList<PolicyStatement>(policy.document.Statement)) {
      for (const block of Object.values(statement.Condition ?? {})) {
        for (const key of Object.keys(block)) keys.add(key.toLowerCase());
      }
    }
  }
  return keys;
};

const authorize = (
  enforcer: RoleEnforcer,
  where: Where,
  conditionKeys: ReadonlySet<string>,
  keys: CloudKeys,
  call: WireCall,
): ProxyAuthorization => {
  {
    if (enforcer.mode === 'off') return {};
    const mapped = authorizationRequests(call, where);
    if ('unchecked' in mapped) {
      enforcer.uncheck(`${call.service}:${call.operation}`, mapped.unchecked);
      return {};
    }
    // A condition on what the request alone cannot tell (a stored tag, a key schema) is not
    // decided here: the call goes through, listed.
    const undecidable = mapped.unknownKeys.filter((key) => conditionKeys.has(key.toLowerCase()));
    if (undecidable.length > 0) {
      enforcer.uncheck(
        `${call.service}:${call.operation}`,
        `the role's conditions test ${undecidable.join(', ')}, which the request does not carry`,
      );
      return {};
    }
    const requests = [...mapped.requests, ...onBehalf(call, mapped.requests, keys)];
    const verdict = enforcer.check(call.operation, requests, 'function');
    if (!verdict.allowed && verdict.denied !== undefined) {
      const { request } = verdict.denied;
      const denied = `${request.action} on ${request.resource}`;
      if (!verdict.proceed) {
        return {
          denied,
          answer: accessDenied(
            call.service,
            accessDeniedMessage(enforcer.principal, request, verdict.denied),
          ),
        };
      }
      return { denied: `${denied} (reported, not enforced)` };
    }
    return s3MissingKeyRule(enforcer, call, mapped.requests);
  }
};

/**
 * S3 answers a read of a missing key with 404 only to a caller allowed to list the bucket;
 * anyone else gets 403, so that what exists cannot be learned by guessing.
 */
const s3MissingKeyRule = (
  enforcer: RoleEnforcer,
  call: WireCall,
  requests: readonly AuthorizationRequest[],
): ProxyAuthorization => {
  const [read] = requests;
  if (call.service !== 's3' || !S3_READS.has(call.operation) || read === undefined) return {};
  return {
    onAnswer: (status) => {
      if (status !== 404) return undefined;
      const list: AuthorizationRequest = {
        action: 's3:ListBucket',
        resource: bucketArnOf(read.resource),
        context: read.context,
      };
      // The grant decides the answer here: it is used (or its absence denied) as any other.
      const verdict = enforcer.check(`${call.operation} of a missing key`, [list], 'function');
      if (verdict.proceed) return undefined;
      return accessDenied('s3', 'Access Denied');
    },
  };
};
