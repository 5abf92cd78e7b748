import { type ResolveContext, resolve } from '../intrinsics';
import type { CfnTemplate } from '../model';
import { asList, evaluate } from './evaluate';
import type { PolicyDocument, PolicyStatement } from './types';

/**
 * Resource policies, for callers that have no identity policy: an AWS service acting as
 * itself. SNS delivers to a queue only if the queue's policy lets `sns.amazonaws.com` send
 * to it (CDK writes one with `aws:SourceArn` = the topic); otherwise every delivery fails.
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
 * Why SNS could not deliver from `topicArn` to the queue `queueArn`, or undefined when the
 * queue's policies let it. The template's `AWS::SQS::QueuePolicy` resources that name the
 * queue (by its URL, their `Queues`) are the queue's policy.
 */
export const subscriptionDenial = (
  template: CfnTemplate,
  context: ResolveContext,
  delivery: { readonly topicArn: string; readonly queueArn: string },
): string | undefined => {
  const queue = Object.values(context.resources).find(
    (r) => r.type === 'AWS::SQS::Queue' && r.attributes.Arn === delivery.queueArn,
  );
  if (queue === undefined) return undefined;
  const policies = Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::SQS::QueuePolicy')
    .map(([id, r]) => ({ id, p: resolve(r.Properties ?? {}, context) as Record<string, unknown> }))
    .filter(({ p }) => asList(p.Queues as string | string[] | undefined).includes(queue.ref))
    .map(({ id, p }) => ({
      name: id,
      document: forService(p.PolicyDocument as PolicyDocument, 'sns.amazonaws.com'),
    }));
  const decision = evaluate(policies, {
    action: 'sqs:SendMessage',
    resource: delivery.queueArn,
    context: {
      'aws:SourceArn': delivery.topicArn,
      'aws:SourceAccount': context.accountId,
      'aws:SecureTransport': 'true',
      'aws:PrincipalServiceName': 'sns.amazonaws.com',
    },
  });
  if (decision.effect === 'allow') return undefined;
  if (decision.effect === 'deny') {
    return `the queue's policy ${decision.deniedBy.policy} denies sns.amazonaws.com sqs:SendMessage from ${delivery.topicArn}`;
  }
  return policies.length === 0
    ? 'the queue has no policy, so SNS may not send to it'
    : `no statement of the queue's policy (${policies.map((p) => p.name).join(', ')}) lets sns.amazonaws.com send from ${delivery.topicArn}`;
};
