import { type ResolveContext, resolve } from '../intrinsics';
import type { CfnTemplate } from '../model';
import { asList } from './evaluate';
import type { NamedPolicy, PolicyDocument } from './types';

/**
 * A function's role as the template defines it: its inline policies, the
 * `AWS::IAM::Policy` and `AWS::IAM::ManagedPolicy` resources attached to it, and the AWS
 * managed policies it names, all with intrinsics resolved to the local names and ARNs.
 */
export interface FunctionRole {
  /** The role's logical id, or undefined when the function names a role the template does not define. */
  readonly logicalId?: string;
  /** `role/<name>` as an assumed-role session would name it in AWS's messages. */
  readonly name: string;
  readonly policies: readonly NamedPolicy[];
  /** AWS managed policies this evaluator does not know: their grants cannot be evaluated. */
  readonly unknownManagedPolicies: readonly string[];
}

/**
 * The AWS managed policies CDK attaches to function roles, as AWS publishes them. Any
 * other managed policy is reported as unknown, and the function's calls are then allowed
 * and listed as unchecked rather than denied for want of its text.
 */
const AWS_MANAGED: Readonly<Record<string, PolicyDocument>> = {
  'service-role/AWSLambdaBasicExecutionRole': {
    Statement: [
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: '*',
      },
    ],
  },
  'service-role/AWSLambdaSQSQueueExecutionRole': {
    Statement: [
      {
        Effect: 'Allow',
        Action: [
          'sqs:ReceiveMessage',
          'sqs:DeleteMessage',
          'sqs:GetQueueAttributes',
          'logs:CreateLogGroup',
          'logs:CreateLogStream',
          'logs:PutLogEvents',
        ],
        Resource: '*',
      },
    ],
  },
  'service-role/AWSLambdaDynamoDBExecutionRole': {
    Statement: [
      {
        Effect: 'Allow',
        Action: [
          'dynamodb:DescribeStream',
          'dynamodb:GetRecords',
          'dynamodb:GetShardIterator',
          'dynamodb:ListStreams',
          'logs:CreateLogGroup',
          'logs:CreateLogStream',
          'logs:PutLogEvents',
        ],
        Resource: '*',
      },
    ],
  },
  AWSXRayDaemonWriteAccess: {
    Statement: [
      {
        Effect: 'Allow',
        Action: [
          'xray:PutTraceSegments',
          'xray:PutTelemetryRecords',
          'xray:GetSamplingRules',
          'xray:GetSamplingTargets',
          'xray:GetSamplingStatisticSummaries',
        ],
        Resource: '*',
      },
    ],
  },
};

/** `arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole` → its path and name. */
const managedPolicyName = (arn: string): string | undefined =>
  /^arn:[^:]+:iam::aws:policy\/(.+)$/.exec(arn)?.[1];

const refOf = (value: unknown): string | undefined => {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (typeof record.Ref === 'string') return record.Ref;
  const getAtt = record['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  return undefined;
};

/** The role of the function `functionId`, from the template. */
export const functionRole = (
  template: CfnTemplate,
  functionId: string,
  context: ResolveContext,
): FunctionRole => {
  const fn = template.Resources[functionId];
  const roleId = refOf(fn?.Properties?.Role);
  const role = roleId === undefined ? undefined : template.Resources[roleId];
  if (roleId === undefined || role?.Type !== 'AWS::IAM::Role') {
    const named = String(resolve(fn?.Properties?.Role ?? '', context));
    return {
      name: named.split('/').pop() || functionId,
      policies: [],
      unknownManagedPolicies: [`the role ${named || '(none)'}, which the template does not define`],
    };
  }
  const policies: NamedPolicy[] = [];
  const unknown: string[] = [];
  const roleProperties = (resolve(role.Properties ?? {}, context) ?? {}) as {
    RoleName?: string;
    Policies?: { PolicyName?: string; PolicyDocument: PolicyDocument }[];
    ManagedPolicyArns?: string[];
  };
  for (const inline of roleProperties.Policies ?? []) {
    policies.push({
      name: `${roleId}/${inline.PolicyName ?? 'inline'}`,
      document: inline.PolicyDocument,
    });
  }
  const addManaged = (arn: string) => {
    const name = managedPolicyName(arn);
    const document = name === undefined ? undefined : AWS_MANAGED[name];
    if (document !== undefined && name !== undefined) policies.push({ name, document });
    else if (!attachedCustomer(arn)) unknown.push(arn);
  };
  // A customer managed policy of this template, named by its ARN (its Ref).
  const customerManaged = new Map<string, string>();
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type === 'AWS::IAM::ManagedPolicy') {
      customerManaged.set(String(resolve({ Ref: id }, context)), id);
    }
  }
  const attachedCustomer = (arn: string): boolean => {
    const id = customerManaged.get(arn);
    const resource = id === undefined ? undefined : template.Resources[id];
    if (id === undefined || resource === undefined) return false;
    const p = resolve(resource.Properties ?? {}, context) as { PolicyDocument: PolicyDocument };
    policies.push({ name: id, document: p.PolicyDocument });
    return true;
  };
  for (const arn of roleProperties.ManagedPolicyArns ?? []) addManaged(String(arn));

  // Policies that name the role: AWS::IAM::Policy (Roles) and AWS::IAM::ManagedPolicy (Roles).
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::IAM::Policy' && resource.Type !== 'AWS::IAM::ManagedPolicy') {
      continue;
    }
    const roles = asList(resource.Properties?.Roles);
    if (!roles.some((r) => refOf(r) === roleId)) continue;
    const p = resolve(resource.Properties ?? {}, context) as { PolicyDocument: PolicyDocument };
    policies.push({ name: id, document: p.PolicyDocument });
  }
  return {
    logicalId: roleId,
    name: roleProperties.RoleName ?? String(resolve({ Ref: roleId }, context)),
    // A customer managed policy both listed by the role and naming it is one policy.
    policies: policies.filter((p, i) => policies.findIndex((q) => q.name === p.name) === i),
    unknownManagedPolicies: unknown,
  };
};
