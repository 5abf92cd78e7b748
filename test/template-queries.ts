import type { Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { referencedId } from '../lib/resource-names';

export { referencedId };

/** A CloudFormation resource as `Template.toJSON()` gives it. */
export interface CfnResourceJson {
  readonly Type: string;
  readonly Properties: Record<string, unknown>;
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
}

export const resourcesOfType = (
  template: Template,
  type: string,
): Record<string, CfnResourceJson> =>
  template.findResources(type) as Record<string, CfnResourceJson>;

/** The resource `logicalId` of the template; throws when there is none. */
export const resourceById = (template: Template, logicalId: string): CfnResourceJson => {
  const resource = (template.toJSON().Resources as Record<string, CfnResourceJson | undefined>)[
    logicalId
  ];
  if (!resource) throw new Error(`no resource ${logicalId} in the template`);
  return resource;
};

export const logicalIdOf = (stack: Stack, construct: IConstruct): string => {
  const child = construct.node.defaultChild;
  if (!child) throw new Error(`${construct.node.path} has no default child`);
  return stack.resolve((child as unknown as { logicalId: string }).logicalId);
};

/** Every construct under `scope` that is an instance of `type`, in tree order. */
export const constructsOfType = <T extends IConstruct>(
  scope: IConstruct,
  type: abstract new (...args: never[]) => T,
): T[] => scope.node.findAll().filter((c): c is T => c instanceof type);

/** `{ Ref: id }`, as the template references a resource. */
export const ref = (logicalId: string) => ({ Ref: logicalId });

/** `{ 'Fn::GetAtt': [id, attribute] }`, as the template reads a resource's attribute. */
export const getAtt = (logicalId: string, attribute: string) => ({
  'Fn::GetAtt': [logicalId, attribute],
});

export interface PolicyStatementJson {
  readonly Sid?: string;
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Principal?: unknown;
  readonly Resource?: unknown;
  readonly Condition?: unknown;
}

interface PolicyDocumentJson {
  readonly Statement: PolicyStatementJson[];
}

export const asList = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/**
 * Every statement of every policy document in `resource`: identity policies
 * (`AWS::IAM::Policy`, `AWS::IAM::ManagedPolicy`, a role's inline `Policies`) and
 * resource policies (bucket, queue, topic and key policies).
 */
export const policyStatementsOf = (resource: CfnResourceJson): PolicyStatementJson[] => {
  const { PolicyDocument, KeyPolicy, Policies } = resource.Properties as {
    PolicyDocument?: PolicyDocumentJson;
    KeyPolicy?: PolicyDocumentJson;
    Policies?: { PolicyDocument: PolicyDocumentJson }[];
  };
  return [
    ...(PolicyDocument?.Statement ?? []),
    ...(KeyPolicy?.Statement ?? []),
    ...(Policies ?? []).flatMap((policy) => policy.PolicyDocument.Statement),
  ];
};

/** Every policy statement of the template, with the logical id of the resource holding it. */
export const allPolicyStatements = (
  template: Template,
): { readonly holder: string; readonly statement: PolicyStatementJson }[] =>
  Object.entries(template.toJSON().Resources as Record<string, CfnResourceJson>).flatMap(
    ([holder, resource]) =>
      policyStatementsOf(resource).map((statement) => ({ holder, statement })),
  );

/** The statements of the queue policy (or policies) attached to queue `queueLogicalId`. */
export const queuePolicyStatements = (
  template: Template,
  queueLogicalId: string,
): PolicyStatementJson[] =>
  Object.values(resourcesOfType(template, 'AWS::SQS::QueuePolicy'))
    .filter((policy) =>
      (policy.Properties.Queues as unknown[]).some((q) => referencedId(q) === queueLogicalId),
    )
    .flatMap(policyStatementsOf);

/** The statements of the topic policy (or policies) attached to topic `topicLogicalId`. */
export const topicPolicyStatements = (
  template: Template,
  topicLogicalId: string,
): PolicyStatementJson[] =>
  Object.values(resourcesOfType(template, 'AWS::SNS::TopicPolicy'))
    .filter((policy) =>
      (policy.Properties.Topics as unknown[]).some((t) => referencedId(t) === topicLogicalId),
    )
    .flatMap(policyStatementsOf);

const isAnyone = (principal: unknown): boolean =>
  principal === '*' || JSON.stringify(principal) === JSON.stringify({ AWS: '*' });

/**
 * The Deny statements of `statements` that refuse `action` (or all of its service's
 * actions) to anyone when the request does not use TLS.
 */
export const denyWithoutTls = (
  statements: readonly PolicyStatementJson[],
  action: string,
): PolicyStatementJson[] => {
  const serviceWildcard = `${action.split(':')[0]}:*`;
  return statements.filter(
    (s) =>
      s.Effect === 'Deny' &&
      asList(s.Action).some((a) => a === action || a === serviceWildcard) &&
      isAnyone(s.Principal) &&
      JSON.stringify(s.Condition) === JSON.stringify({ Bool: { 'aws:SecureTransport': 'false' } }),
  );
};

/** The statements of the bucket policy of bucket `bucketLogicalId`. */
export const bucketPolicyStatements = (
  template: Template,
  bucketLogicalId: string,
): PolicyStatementJson[] =>
  Object.values(resourcesOfType(template, 'AWS::S3::BucketPolicy'))
    .filter((policy) => referencedId(policy.Properties.Bucket) === bucketLogicalId)
    .flatMap(policyStatementsOf);

/** Every Allow statement of the inline policies attached to a function's role. */
export const allowStatementsOfFunction = (
  template: Template,
  functionLogicalId: string,
): PolicyStatementJson[] => {
  const roleId = roleIdOfFunction(template, functionLogicalId);
  return Object.values(resourcesOfType(template, 'AWS::IAM::Policy'))
    .filter((policy) =>
      (policy.Properties.Roles as { Ref: string }[]).some((role) => role.Ref === roleId),
    )
    .flatMap(policyStatementsOf)
    .filter((statement) => statement.Effect === 'Allow');
};

/** The logical id of the role a function runs as. */
export const roleIdOfFunction = (template: Template, functionLogicalId: string): string => {
  const roleId = referencedId(resourceById(template, functionLogicalId).Properties.Role);
  if (!roleId) throw new Error(`${functionLogicalId} has no role of this template`);
  return roleId;
};

/** The set of actions a function's role allows, on any resource. */
export const allowedActionsOfFunction = (template: Template, functionLogicalId: string): string[] =>
  [
    ...new Set(
      allowStatementsOfFunction(template, functionLogicalId).flatMap((s) => asList(s.Action)),
    ),
  ].sort();

/** The Allow statements of a function's role that name `action`. */
export const statementsAllowing = (
  template: Template,
  functionLogicalId: string,
  action: string,
): PolicyStatementJson[] =>
  allowStatementsOfFunction(template, functionLogicalId).filter((s) =>
    asList(s.Action).includes(action),
  );

/** What every function's role has: writing to its own log group and sending traces. */
export const LOGGING_AND_TRACING_ACTIONS = /^(logs|xray):/;

/** What an SQS event source mapping adds to the function's role to drain its queue. */
export const SQS_CONSUME_ACTIONS = [
  'sqs:ChangeMessageVisibility',
  'sqs:DeleteMessage',
  'sqs:GetQueueAttributes',
  'sqs:GetQueueUrl',
  'sqs:ReceiveMessage',
] as const;

/** `actions` without those matching a pattern or named in `excluded`, sorted. */
export const actionsWithout = (
  actions: readonly string[],
  ...excluded: readonly (RegExp | readonly string[])[]
): string[] =>
  actions
    .filter(
      (action) =>
        !excluded.some((rule) =>
          rule instanceof RegExp ? rule.test(action) : rule.includes(action),
        ),
    )
    .sort();

/** The event source mappings that invoke function `functionLogicalId`. */
export const eventSourceMappingsOf = (
  template: Template,
  functionLogicalId: string,
): CfnResourceJson[] =>
  Object.values(resourcesOfType(template, 'AWS::Lambda::EventSourceMapping')).filter(
    (mapping) => referencedId(mapping.Properties.FunctionName) === functionLogicalId,
  );

/** The SNS subscriptions delivering to queue `queueLogicalId`. */
export const subscriptionsTo = (template: Template, queueLogicalId: string): CfnResourceJson[] =>
  Object.values(resourcesOfType(template, 'AWS::SNS::Subscription')).filter(
    (subscription) => referencedId(subscription.Properties.Endpoint) === queueLogicalId,
  );

/** The alarms on the number of visible messages of queue `queueLogicalId`. */
export const depthAlarmsOf = (template: Template, queueLogicalId: string): CfnResourceJson[] =>
  Object.values(resourcesOfType(template, 'AWS::CloudWatch::Alarm')).filter(
    (alarm) =>
      alarm.Properties.MetricName === 'ApproximateNumberOfMessagesVisible' &&
      (alarm.Properties.Dimensions as { Name: string; Value: unknown }[] | undefined)?.some(
        (d) => d.Name === 'QueueName' && referencedId(d.Value) === queueLogicalId,
      ),
  );
