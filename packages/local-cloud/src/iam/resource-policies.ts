import { type ResolveContext, resolve } from '../intrinsics';
import type { CfnTemplate } from '../model';
import { asList, evaluate } from './evaluate';
import type {
  AuthorizationRequest,
  NamedPolicy,
  PolicyDocument,
  PolicyStatement,
  StatementRef,
} from './types';

/**
 * Resource policies. For an AWS service acting as itself, they are all there is: SNS
 * delivers to a queue only if the queue's policy lets `sns.amazonaws.com` send to it (CDK
 * writes one with `aws:SourceArn` = the topic); otherwise every delivery fails. For a
 * function's role, they are evaluated with its identity policies (`authorize`): a TLS-only
 * Deny, a bucket policy's Deny, a key policy that does not let the account's IAM decide.
 */

/** Whether a statement's Principal (or NotPrincipal) covers the service principal `service`. */
const appliesToService = (statement: PolicyStatement, service: string): boolean => {
  const covers = (principal: unknown): boolean => {
    if (principal === '*') return true;
    if (typeof principal !== 'object' || principal === null) return false;
    const { Service, AWS } = principal as { Service?: unknown; AWS?: unknown };
    return (
      asList(Service as string | string[] | undefined).includes(service) ||
      asList(AWS as string | string[] | undefined).includes('*')
    );
  };
  if (statement.NotPrincipal !== undefined) return !covers(statement.NotPrincipal);
  return covers(statement.Principal);
};

/** A resource policy's statements that apply to a service principal, as an identity policy. */
const forService = (document: PolicyDocument, service: string): PolicyDocument => ({
  Statement: asList<PolicyStatement>(document.Statement)
    .filter((statement) => appliesToService(statement, service))
    .map(({ Principal: _principal, NotPrincipal: _notPrincipal, ...rest }) => rest),
});

/**
 * Why `service` (an AWS service acting as itself) could not send from `sourceArn` to the queue
 * `queueArn`, or undefined when the queue's policies let it. The template's
 * `AWS::SQS::QueuePolicy` resources that name the queue (by its URL, their `Queues`) are the
 * queue's policy; a queue the template does not define is not checked.
 */
const queueDeliveryDenial = (
  template: CfnTemplate,
  context: ResolveContext,
  delivery: { readonly service: string; readonly sourceArn: string; readonly queueArn: string },
): string | undefined => {
  const { service, sourceArn, queueArn } = delivery;
  const queue = Object.values(context.resources).find(
    (r) => r.type === 'AWS::SQS::Queue' && r.attributes.Arn === queueArn,
  );
  if (queue === undefined) return undefined;
  const policies = templateResourcePolicies(template, context)
    .forResource(queueArn)
    .map(({ name, document }) => ({ name, document: forService(document, service) }));
  const decision = evaluate(policies, {
    action: 'sqs:SendMessage',
    resource: queueArn,
    context: {
      'aws:SourceArn': sourceArn,
      'aws:SourceAccount': context.accountId,
      'aws:SecureTransport': 'true',
      'aws:PrincipalServiceName': service,
    },
  });
  if (decision.effect === 'allow') return undefined;
  if (decision.effect === 'deny') {
    return `the queue's policy ${decision.deniedBy.policy} denies ${service} sqs:SendMessage from ${sourceArn}`;
  }
  return policies.length === 0
    ? `the queue has no policy, so ${service} may not send to it`
    : `no statement of the queue's policy (${policies.map((p) => p.name).join(', ')}) lets ${service} send from ${sourceArn}`;
};

/** Why SNS could not deliver from `topicArn` to the queue `queueArn`, or undefined when it could. */
export const subscriptionDenial = (
  template: CfnTemplate,
  context: ResolveContext,
  delivery: { readonly topicArn: string; readonly queueArn: string },
): string | undefined =>
  queueDeliveryDenial(template, context, {
    service: 'sns.amazonaws.com',
    sourceArn: delivery.topicArn,
    queueArn: delivery.queueArn,
  });

/**
 * Why S3 could not send the bucket `bucketArn`'s event notifications to the queue `queueArn`,
 * or undefined when it could: the queue's policy must let `s3.amazonaws.com` send, and CDK
 * conditions that on the bucket (`aws:SourceArn`) and its account (`aws:SourceAccount`).
 */
export const bucketNotificationDenial = (
  template: CfnTemplate,
  context: ResolveContext,
  delivery: { readonly bucketArn: string; readonly queueArn: string },
): string | undefined =>
  queueDeliveryDenial(template, context, {
    service: 's3.amazonaws.com',
    sourceArn: delivery.bucketArn,
    queueArn: delivery.queueArn,
  });

/** The actions CloudWatch takes on a topic's key to publish an alarm to it. */
const ALARM_KEY_ACTIONS = ['kms:GenerateDataKey', 'kms:Decrypt'];

/**
 * Why CloudWatch could not publish the alarm `alarmArn` to `topicArn`, or undefined when it
 * could. Only an encrypted topic can refuse it: the key's policy must let
 * `cloudwatch.amazonaws.com` use the key (with `aws:SourceArn` = the alarm), and the AWS
 * managed key (`alias/aws/sns`) has a policy no one can change, which does not.
 */
export const alarmActionDenial = (
  template: CfnTemplate,
  context: ResolveContext,
  action: { readonly alarmArn: string; readonly topicArn: string },
): string | undefined => {
  const topicId = Object.keys(template.Resources).find(
    (id) =>
      template.Resources[id]?.Type === 'AWS::SNS::Topic' &&
      context.resources[id]?.ref === action.topicArn,
  );
  const keyId = topicId && template.Resources[topicId]?.Properties?.KmsMasterKeyId;
  if (keyId === undefined || keyId === '') return undefined;
  const key = String(resolve(keyId, context));
  if (/alias\/aws\/sns$/.test(key)) {
    return `the topic is encrypted with the AWS managed key alias/aws/sns, whose policy CloudWatch cannot use`;
  }
  const keyEntry = Object.entries(template.Resources).find(
    ([id, r]) =>
      r.Type === 'AWS::KMS::Key' &&
      (context.resources[id]?.ref === key || context.resources[id]?.attributes.Arn === key),
  );
  if (keyEntry === undefined) return undefined;
  const [keyLogicalId, keyResource] = keyEntry;
  const keyArn = context.resources[keyLogicalId]?.attributes.Arn ?? key;
  const keyPolicy = (
    resolve(keyResource.Properties ?? {}, context) as { KeyPolicy?: PolicyDocument }
  ).KeyPolicy;
  const policies =
    keyPolicy === undefined
      ? []
      : [{ name: keyLogicalId, document: forService(keyPolicy, 'cloudwatch.amazonaws.com') }];
  const refused = ALARM_KEY_ACTIONS.filter(
    (kmsAction) =>
      evaluate(policies, {
        action: kmsAction,
        resource: keyArn,
        context: {
          'aws:SourceArn': action.alarmArn,
          'aws:SourceAccount': action.alarmArn.split(':')[4] ?? '',
          'aws:SecureTransport': 'true',
          'aws:PrincipalServiceName': 'cloudwatch.amazonaws.com',
        },
      }).effect !== 'allow',
  );
  return refused.length === 0
    ? undefined
    : `the key's policy does not let cloudwatch.amazonaws.com ${refused.join(', ')} on ${keyArn} for ${action.alarmArn}`;
};

/** A resource's own policy: a bucket's, a queue's, a topic's, a key's or a secret's. */
export interface ResourcePolicy {
  /** The template's logical id of the policy (a key's is the key's own). */
  readonly name: string;
  /** The ARN of the resource it governs (a bucket's governs its objects too). */
  readonly resource: string;
  readonly document: PolicyDocument;
}

export interface ResourcePolicies {
  readonly all: readonly ResourcePolicy[];
  /** The policies that govern `arn`: an object's are its bucket's. */
  forResource(arn: string): readonly ResourcePolicy[];
}

/** `arn:aws:s3:::bucket/key` → `arn:aws:s3:::bucket`; any other ARN as it is. */
const governingArn = (arn: string): string =>
  arn.startsWith('arn:aws:s3:::') ? arn.replace(/^(arn:aws:s3:::[^/]*)\/.*$/, '$1') : arn;

const POLICY_TYPES = new Set([
  'AWS::S3::BucketPolicy',
  'AWS::SQS::QueuePolicy',
  'AWS::SNS::TopicPolicy',
  'AWS::SecretsManager::ResourcePolicy',
  'AWS::KMS::Key',
]);

/**
 * The template's resource policies, resolved to the local names: `AWS::S3::BucketPolicy`
 * (its `Bucket`), `AWS::SQS::QueuePolicy` (its `Queues`, by URL), `AWS::SNS::TopicPolicy`
 * (its `Topics`), `AWS::SecretsManager::ResourcePolicy` (its `SecretId`) and each
 * `AWS::KMS::Key`'s `KeyPolicy`.
 */
export const templateResourcePolicies = (
  template: CfnTemplate,
  context: ResolveContext,
): ResourcePolicies => {
  const physical = Object.values(context.resources);
  const queueArn = (url: string) =>
    physical.find((r) => r.type === 'AWS::SQS::Queue' && r.ref === url)?.attributes.Arn;
  const all: ResourcePolicy[] = [];
  for (const [id, resource] of Object.entries(template.Resources)) {
    const governs = (p: Record<string, unknown>): readonly (string | undefined)[] => {
      switch (resource.Type) {
        case 'AWS::S3::BucketPolicy':
          return [`arn:aws:s3:::${String(p.Bucket)}`];
        case 'AWS::SQS::QueuePolicy':
          return asList(p.Queues as string | string[] | undefined).map(queueArn);
        case 'AWS::SNS::TopicPolicy':
          return asList(p.Topics as string | string[] | undefined);
        case 'AWS::SecretsManager::ResourcePolicy':
          return [String(p.SecretId)];
        case 'AWS::KMS::Key':
          return [context.resources[id]?.attributes.Arn];
        default:
          return [];
      }
    };
    if (!POLICY_TYPES.has(resource.Type)) continue;
    const p = resolve(resource.Properties ?? {}, context) as Record<string, unknown>;
    const document = (resource.Type === 'AWS::KMS::Key' ? p.KeyPolicy : p.PolicyDocument) as
      | PolicyDocument
      | undefined;
    if (document === undefined) continue;
    for (const arn of governs(p)) {
      if (arn !== undefined) all.push({ name: id, resource: arn, document });
    }
  }
  return {
    all,
    forResource: (arn) => {
      const governing = governingArn(arn);
      return all.filter((policy) => policy.resource === governing);
    },
  };
};

/** Who calls: the account, and the ARNs that name the caller (its role's, its session's). */
export interface CallerIdentity {
  readonly accountId: string;
  readonly arns: readonly string[];
}

/**
 * Whether a statement's Principal names the caller: `direct` (everyone, the role, its
 * session), `account` (the caller's account, which within it delegates to IAM), or not at all.
 */
const reach = (
  statement: PolicyStatement,
  who: CallerIdentity,
): 'direct' | 'account' | undefined => {
  const of = (principal: unknown): 'direct' | 'account' | undefined => {
    if (principal === '*') return 'direct';
    if (typeof principal !== 'object' || principal === null) return undefined;
    const names = asList((principal as { AWS?: string | string[] }).AWS);
    if (names.some((name) => name === '*' || who.arns.includes(name))) return 'direct';
    const root = `arn:aws:iam::${who.accountId}:root`;
    if (names.some((name) => name === root || name === who.accountId)) return 'account';
    return undefined;
  };
  if (statement.NotPrincipal !== undefined) {
    return of(statement.NotPrincipal) === undefined ? 'direct' : undefined;
  }
  return of(statement.Principal);
};

/** The statements of `policies` that name the caller the way `wanted` says, as identity-style policies. */
const naming = (
  policies: readonly ResourcePolicy[],
  who: CallerIdentity,
  wanted: ReadonlySet<'direct' | 'account'>,
) =>
  policies.map(({ name, document }) => ({
    name,
    document: {
      Statement: asList<PolicyStatement>(document.Statement).map((statement) => {
        const r = reach(statement, who);
        // A statement that does not name the caller stays, emptied, so indices still point at it.
        return r !== undefined && wanted.has(r) ? statement : { Effect: statement.Effect };
      }),
    },
  }));

/** Where a denial came from: the caller's identity policies, or the resource's own policy. */
export type PolicyKind = 'identity' | 'resource';

export type ResourceAwareDecision =
  | { readonly effect: 'allow'; readonly allowedBy: readonly StatementRef[] }
  | { readonly effect: 'deny'; readonly deniedBy: StatementRef; readonly in: PolicyKind }
  | { readonly effect: 'implicit-deny'; readonly missing: PolicyKind };

/**
 * AWS's decision within one account ("Policy evaluation logic", same-account requests): an
 * explicit Deny in the identity policies or in the resource's policy (one that names the
 * caller, the account or everyone) denies; otherwise an Allow in either allows, where a
 * resource policy allows only by naming the caller or everyone (naming the account hands the
 * decision to IAM). A KMS key is the exception: its policy must allow the caller itself, or
 * allow the account and the identity policies then allow too. `allowedBy` lists the identity
 * statements that allowed, so the report counts them used; empty when the resource alone did.
 */
export const authorize = (
  identity: readonly NamedPolicy[],
  resourcePolicies: readonly ResourcePolicy[],
  who: CallerIdentity,
  request: AuthorizationRequest,
): ResourceAwareDecision => {
  const own = evaluate(identity, request);
  if (own.effect === 'deny') return { effect: 'deny', deniedBy: own.deniedBy, in: 'identity' };
  const any = evaluate(naming(resourcePolicies, who, new Set(['direct', 'account'])), request);
  if (any.effect === 'deny') return { effect: 'deny', deniedBy: any.deniedBy, in: 'resource' };
  const direct = evaluate(naming(resourcePolicies, who, new Set(['direct'])), request);
  const allowedBy = own.effect === 'allow' ? own.allowedBy : [];
  const isKey = request.action.toLowerCase().startsWith('kms:') && resourcePolicies.length > 0;
  if (isKey) {
    if (direct.effect === 'allow') return { effect: 'allow', allowedBy };
    const delegated = evaluate(naming(resourcePolicies, who, new Set(['account'])), request);
    if (delegated.effect !== 'allow') return { effect: 'implicit-deny', missing: 'resource' };
    return own.effect === 'allow'
      ? { effect: 'allow', allowedBy }
      : { effect: 'implicit-deny', missing: 'identity' };
  }
  if (own.effect === 'allow' || direct.effect === 'allow') return { effect: 'allow', allowedBy };
  return { effect: 'implicit-deny', missing: 'identity' };
};
