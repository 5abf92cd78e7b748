import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describeReport, RoleEnforcer } from '../src/iam/enforcer';
import { functionRole } from '../src/iam/roles';
import type { AuthorizationRequest } from '../src/iam/types';
import type { ResolveContext } from '../src/intrinsics';
import type { CfnTemplate, PhysicalResource } from '../src/model';

// A function's role is read from the template as CDK writes it (a role, its default policy,
// AWS managed policies), resolved to the local names, and evaluated for each call.

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';

const synth = () => {
  const app = new App();
  const stack = new Stack(app, 'RolesStack', { env: { account: ACCOUNT, region: REGION } });
  const table = new dynamodb.Table(stack, 'Customers', {
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
  });
  const bucket = new s3.Bucket(stack, 'Archive');
  const fn = new lambda.Function(stack, 'Writer', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => null;'),
  });
  table.grant(fn, 'dynamodb:PutItem', 'dynamodb:GetItem');
  bucket.grantRead(fn);
  fn.role?.addManagedPolicy(
    iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSomethingNobodyKnows'),
  );
  const plain = new lambda.Function(stack, 'Plain', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => null;'),
  });
  table.grantReadData(plain);
  return Template.fromStack(stack).toJSON() as CfnTemplate;
};

/** Every resource provisioned under its logical id in lower case, with the ARN its type has. */
const contextOf = (template: CfnTemplate): ResolveContext => {
  const resources: Record<string, PhysicalResource> = {};
  for (const [id, r] of Object.entries(template.Resources)) {
    const ref = id.toLowerCase();
    const arn =
      r.Type === 'AWS::DynamoDB::Table'
        ? `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${ref}`
        : r.Type === 'AWS::S3::Bucket'
          ? `arn:aws:s3:::${ref}`
          : r.Type === 'AWS::IAM::Role'
            ? `arn:aws:iam::${ACCOUNT}:role/${ref}`
            : `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${ref}`;
    resources[id] = { logicalId: id, type: r.Type, ref, attributes: { Arn: arn } };
  }
  return { resources, accountId: ACCOUNT, region: REGION, stackName: 'RolesStack' };
};

const template = synth();
const context = contextOf(template);
const idOf = (prefix: string) =>
  Object.keys(template.Resources).find(
    (id) => id.startsWith(prefix) && template.Resources[id]?.Type === 'AWS::Lambda::Function',
  ) ?? '';
const table = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${Object.keys(template.Resources)
  .find((id) => id.startsWith('Customers'))
  ?.toLowerCase()}`;
const bucket = `arn:aws:s3:::${Object.keys(template.Resources)
  .find((id) => id.startsWith('Archive') && template.Resources[id]?.Type === 'AWS::S3::Bucket')
  ?.toLowerCase()}`;
const request = (action: string, resource: string): AuthorizationRequest => ({
  action,
  resource,
  context: {},
});
const enforcerOf = (prefix: string, mode: 'enforce' | 'report' = 'enforce') => {
  const role = functionRole(template, idOf(prefix), context);
  return new RoleEnforcer(prefix, role, mode, `arn:aws:sts::${ACCOUNT}:assumed-role/r/${prefix}`);
};

describe('functionRole', () => {
  test('collects the default policy and the AWS managed policies, resolved to local ARNs', () => {
    const role = functionRole(template, idOf('Plain'), context);
    expect(role.policies.map((p) => p.name)).toEqual([
      'service-role/AWSLambdaBasicExecutionRole',
      expect.stringMatching(/^PlainServiceRoleDefaultPolicy/),
    ]);
    expect(JSON.stringify(role.policies[1]?.document)).toContain(table);
    expect(role.unknownManagedPolicies).toEqual([]);
  });

  test('names a managed policy whose text it does not know', () => {
    const role = functionRole(template, idOf('Writer'), context);
    expect(role.unknownManagedPolicies).toEqual([
      expect.stringContaining('policy/AmazonSomethingNobodyKnows'),
    ]);
  });
});

describe('RoleEnforcer', () => {
  test('allows what the role grants, denies the rest with AWS’s message, and counts both', () => {
    const plain = enforcerOf('Plain');
    expect(plain.check('GetItem', [request('dynamodb:GetItem', table)], 'function')).toEqual({
      allowed: true,
      proceed: true,
    });
    const denied = plain.check('PutItem', [request('dynamodb:PutItem', table)], 'function');
    expect(denied).toEqual({
      allowed: false,
      proceed: false,
      denied: { request: request('dynamodb:PutItem', table), explicit: false, in: 'identity' },
    });
    const report = plain.report();
    expect(report.denied).toEqual([
      {
        action: 'dynamodb:PutItem',
        resource: table,
        operation: 'PutItem',
        by: 'function',
        explicit: false,
        in: 'identity',
        calls: 1,
      },
    ]);
    expect(report.granted.find((g) => g.action === 'dynamodb:GetItem')).toMatchObject({
      calls: 1,
      usedBy: ['function'],
    });
    expect(report.granted.find((g) => g.action === 'dynamodb:Query')).toMatchObject({ calls: 0 });
  });

  test('in report mode a denied call goes through, and is still listed', () => {
    const plain = enforcerOf('Plain', 'report');
    expect(plain.check('PutItem', [request('dynamodb:PutItem', table)], 'function')).toMatchObject({
      allowed: false,
      proceed: true,
    });
    expect(plain.report().denied).toHaveLength(1);
  });

  test('a call is allowed only when every request it makes is: one denied item denies it', () => {
    const plain = enforcerOf('Plain');
    const verdict = plain.check(
      'TransactGetItems',
      [request('dynamodb:GetItem', table), request('dynamodb:GetItem', `${table}-other`)],
      'function',
    );
    expect(verdict.denied?.request.resource).toBe(`${table}-other`);
  });

  test('a role with a managed policy it cannot read is not evaluated: its calls go through, listed as unchecked', () => {
    const writer = enforcerOf('Writer');
    expect(writer.check('PutObject', [request('s3:PutObject', `${bucket}/k`)], 'function')).toEqual(
      {
        allowed: true,
        proceed: true,
      },
    );
    expect(writer.report().unchecked).toEqual([
      expect.objectContaining({ operation: 'PutObject', calls: 1 }),
    ]);
  });

  test('the platform’s use is told apart from the function’s, and unused grants are named', () => {
    const plain = enforcerOf('Plain');
    plain.check('GetRecords', [request('dynamodb:GetItem', table)], 'platform');
    const lines = describeReport(plain.report());
    expect(lines[0]).toContain('dynamodb:GetItem used by the platform');
    expect(lines).toContainEqual(expect.stringContaining('granted, never used: dynamodb:Query'));
  });
});
