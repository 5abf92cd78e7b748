import type { Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';

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

export const logicalIdOf = (stack: Stack, construct: IConstruct): string => {
  const child = construct.node.defaultChild;
  if (!child) throw new Error(`${construct.node.path} has no default child`);
  return stack.resolve((child as unknown as { logicalId: string }).logicalId);
};

interface PolicyStatementJson {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource?: unknown;
  readonly Condition?: unknown;
}

const asList = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** Every Allow statement of the inline policies attached to a function's role. */
export const allowStatementsOfFunction = (
  template: Template,
  functionLogicalId: string,
): PolicyStatementJson[] => {
  const fn = template.toJSON().Resources[functionLogicalId] as CfnResourceJson;
  const roleArn = fn.Properties.Role as { 'Fn::GetAtt': [string, string] };
  const roleId = roleArn['Fn::GetAtt'][0];
  return Object.values(resourcesOfType(template, 'AWS::IAM::Policy'))
    .filter((policy) =>
      (policy.Properties.Roles as { Ref: string }[]).some((role) => role.Ref === roleId),
    )
    .flatMap(
      (policy) =>
        (policy.Properties.PolicyDocument as { Statement: PolicyStatementJson[] }).Statement,
    )
    .filter((statement) => statement.Effect === 'Allow');
};

/** The set of actions a function's role allows, on any resource. */
export const allowedActionsOfFunction = (template: Template, functionLogicalId: string): string[] =>
  [
    ...new Set(
      allowStatementsOfFunction(template, functionLogicalId).flatMap((s) => asList(s.Action)),
    ),
  ].sort();
