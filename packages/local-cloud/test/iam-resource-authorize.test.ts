import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { accessDeniedMessage, RoleEnforcer } from '../src/iam/enforcer';
import {
  authorize,
  type ResourcePolicies,
  type ResourcePolicy,
  templateResourcePolicies,
} from '../src/iam/resource-policies';
import type { AuthorizationRequest, PolicyStatement } from '../src/iam/types';
import type { ResolveContext } from '../src/intrinsics';
import type { CfnTemplate, PhysicalResource } from '../src/model';

// A call within one account is allowed when the caller's identity policies or the
// resource's own policy allow it, and neither denies it explicitly; a KMS key's policy must
// allow it itself, or hand the decision to IAM by allowing the account.

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/writer`;
const SESSION = `arn:aws:sts::${ACCOUNT}:assumed-role/writer/fn`;
const WHO = { accountId: ACCOUNT, arns: [ROLE, SESSION] };
const BUCKET = 'arn:aws:s3:::archive';
const KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;

const secure = (
  action: string,
  resource: string,
  secureTransport = 'true',
): AuthorizationRequest => ({
  action,
  resource,
  context: { 'aws:SecureTransport': secureTransport },
});
const allow = (action: string | string[], resource: string): PolicyStatement => ({
  Effect: 'Allow',
  Action: action,
  Resource: resource,
});
const identity = (...statements: PolicyStatement[]) => [
  { name: 'WriterPolicy', document: { Statement: statements } },
];
const policyOf = (name: string, ...statements: PolicyStatement[]): ResourcePolicy => ({
  name,
  resource: name,
  document: { Statement: statements },
});
const tlsOnly: PolicyStatement = {
  Effect: 'Deny',
  Principal: { AWS: '*' },
  Action: 's3:*',
  Resource: [BUCKET, `${BUCKET}/*`],
  Condition: { Bool: { 'aws:SecureTransport': 'false' } },
};
const rootKeyPolicy: PolicyStatement = {
  Effect: 'Allow',
  Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
  Action: 'kms:*',
  Resource: '*',
};

describe('authorize', () => {
  test('a TLS-only Deny denies a request over plain HTTP, not one over TLS (the local endpoint counts as TLS)', () => {
    const policies = identity(allow('s3:PutObject', `${BUCKET}/*`));
    const bucketPolicy = [policyOf('ArchivePolicy', tlsOnly)];

    expect(authorize(policies, bucketPolicy, WHO, secure('s3:PutObject', `${BUCKET}/a`))).toEqual(
      expect.objectContaining({ effect: 'allow' }),
    );
    expect(
      authorize(policies, bucketPolicy, WHO, secure('s3:PutObject', `${BUCKET}/a`, 'false')),
    ).toEqual({
      effect: 'deny',
      in: 'resource',
      deniedBy: { policy: 'ArchivePolicy', index: 0 },
    });
  });

  test('a resource policy’s explicit Deny wins over the identity policy’s Allow', () => {
    const denyDeletes = policyOf('ArchivePolicy', {
      Effect: 'Deny',
      Principal: '*',
      Action: 's3:DeleteObject*',
      Resource: `${BUCKET}/kept/*`,
    });
    const policies = identity(allow('s3:*', `${BUCKET}/*`));

    expect(
      authorize(policies, [denyDeletes], WHO, secure('s3:DeleteObject', `${BUCKET}/kept/a`)),
    ).toEqual(expect.objectContaining({ effect: 'deny', in: 'resource' }));
    expect(
      authorize(policies, [denyDeletes], WHO, secure('s3:DeleteObject', `${BUCKET}/other/a`)),
    ).toEqual(expect.objectContaining({ effect: 'allow' }));
  });

  test('a resource policy that names the role, or its session, grants on its own; one that names the account does not', () => {
    const request = secure('s3:GetObject', `${BUCKET}/a`);
    const naming = (principal: unknown) =>
      authorize(
        identity(),
        [
          policyOf('ArchivePolicy', {
            ...allow('s3:GetObject', `${BUCKET}/*`),
            Principal: principal,
          }),
        ],
        WHO,
        request,
      ).effect;

    expect(naming({ AWS: ROLE })).toBe('allow');
    expect(naming({ AWS: [SESSION] })).toBe('allow');
    expect(naming('*')).toBe('allow');
    // Within the account, allowing the account delegates to its identity policies.
    expect(naming({ AWS: `arn:aws:iam::${ACCOUNT}:root` })).toBe('implicit-deny');
    expect(naming({ AWS: ACCOUNT })).toBe('implicit-deny');
    expect(naming({ AWS: `arn:aws:iam::${ACCOUNT}:role/someone-else` })).toBe('implicit-deny');
    expect(naming({ Service: 'sns.amazonaws.com' })).toBe('implicit-deny');
  });

  test('a Deny naming the account applies to every role in it; one naming a service does not apply to the role', () => {
    const deny = (principal: unknown) =>
      authorize(
        identity(allow('s3:GetObject', `${BUCKET}/*`)),
        [
          policyOf('ArchivePolicy', {
            Effect: 'Deny',
            Principal: principal,
            Action: 's3:GetObject',
            Resource: `${BUCKET}/*`,
          }),
        ],
        WHO,
        secure('s3:GetObject', `${BUCKET}/a`),
      ).effect;

    expect(deny({ AWS: `arn:aws:iam::${ACCOUNT}:root` })).toBe('deny');
    expect(deny({ Service: 'logging.s3.amazonaws.com' })).toBe('allow');
  });

  test('a key whose policy allows the account: the identity policy decides', () => {
    const keyPolicy = [policyOf('Key', rootKeyPolicy)];
    const request = secure('kms:GenerateDataKey', KEY);

    expect(
      authorize(identity(allow('kms:GenerateDataKey*', KEY)), keyPolicy, WHO, request).effect,
    ).toBe('allow');
    expect(authorize(identity(), keyPolicy, WHO, request)).toEqual({
      effect: 'implicit-deny',
      missing: 'identity',
    });
  });

  test('a key whose policy neither names the role nor allows the account denies, whatever the identity policy says', () => {
    const cloudWatchOnly = policyOf('Key', {
      Effect: 'Allow',
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      Resource: '*',
    });

    expect(
      authorize(
        identity(allow('kms:*', '*')),
        [cloudWatchOnly],
        WHO,
        secure('kms:GenerateDataKey', KEY),
      ),
    ).toEqual({ effect: 'implicit-deny', missing: 'resource' });
  });

  test('a key whose policy names the role allows without an identity policy', () => {
    const namingTheRole = policyOf('Key', {
      Effect: 'Allow',
      Principal: { AWS: ROLE },
      Action: 'kms:Decrypt',
      Resource: '*',
    });
    expect(authorize(identity(), [namingTheRole], WHO, secure('kms:Decrypt', KEY)).effect).toBe(
      'allow',
    );
  });

  test('with no resource policy, the identity policy alone decides, for a key too (one the template does not define)', () => {
    expect(authorize(identity(), [], WHO, secure('kms:Decrypt', KEY)).effect).toBe('implicit-deny');
    expect(
      authorize(identity(allow('kms:Decrypt', KEY)), [], WHO, secure('kms:Decrypt', KEY)).effect,
    ).toBe('allow');
  });
});

describe('accessDeniedMessage', () => {
  const request = secure('s3:PutObject', `${BUCKET}/a`);
  test.each([
    [{ explicit: true, in: 'identity' }, 'with an explicit deny in an identity-based policy'],
    [{ explicit: true, in: 'resource' }, 'with an explicit deny in a resource-based policy'],
    [
      { explicit: false, in: 'identity' },
      'because no identity-based policy allows the s3:PutObject action',
    ],
    [
      { explicit: false, in: 'resource' },
      'because no resource-based policy allows the s3:PutObject action',
    ],
  ] as const)('%o', (reason, ending) => {
    expect(accessDeniedMessage(SESSION, request, reason)).toBe(
      `User: ${SESSION} is not authorized to perform: s3:PutObject on resource: ${BUCKET}/a ${ending}`,
    );
  });
});

describe('the template’s resource policies', () => {
  const app = new App();
  const stack = new Stack(app, 'Policies', { env: { account: ACCOUNT, region: REGION } });
  const bucket = new s3.Bucket(stack, 'Archive', {
    enforceSSL: true,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  bucket.addToResourcePolicy(
    new iam.PolicyStatement({
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['s3:DeleteObject*'],
      resources: [bucket.arnForObjects('kept/*')],
    }),
  );
  const queue = new sqs.Queue(stack, 'Orders', { enforceSSL: true });
  const key = new kms.Key(stack, 'Key');
  const topic = new sns.Topic(stack, 'Events', { enforceSSL: true, masterKey: key });
  const template = Template.fromStack(stack).toJSON() as CfnTemplate;

  const resources: Record<string, PhysicalResource> = {};
  for (const [id, r] of Object.entries(template.Resources)) {
    const name = id.toLowerCase();
    const physical = (ref: string, arn: string) => {
      resources[id] = { logicalId: id, type: r.Type, ref, attributes: { Arn: arn } };
    };
    if (r.Type === 'AWS::S3::Bucket') physical(name, `arn:aws:s3:::${name}`);
    else if (r.Type === 'AWS::SQS::Queue') {
      physical(`http://127.0.0.1:1/${ACCOUNT}/${name}`, `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`);
    } else if (r.Type === 'AWS::SNS::Topic') {
      const arn = `arn:aws:sns:${REGION}:${ACCOUNT}:${name}`;
      physical(arn, arn);
    } else if (r.Type === 'AWS::KMS::Key')
      physical(name, `arn:aws:kms:${REGION}:${ACCOUNT}:key/${name}`);
    else physical(name, name);
  }
  const context: ResolveContext = {
    resources,
    accountId: ACCOUNT,
    region: REGION,
    stackName: 'Policies',
  };
  const arnOf = (construct: { node: { defaultChild?: unknown } }) => {
    const id = stack.getLogicalId(construct.node.defaultChild as never);
    return resources[id]?.attributes.Arn ?? '';
  };
  const policies: ResourcePolicies = templateResourcePolicies(template, context);
  const names = (arn: string) =>
    policies.forResource(arn).map((p) => p.name.replace(/[0-9A-F]{8}$/, ''));

  test('finds each resource’s policy by the ARN it governs: a bucket’s objects by the bucket', () => {
    expect(names(arnOf(bucket))).toEqual(['ArchivePolicy']);
    expect(names(`${arnOf(bucket)}/kept/a`)).toEqual(['ArchivePolicy']);
    expect(names(arnOf(queue))).toEqual(['OrdersPolicy']);
    expect(names(arnOf(topic))).toEqual(['EventsPolicy']);
    expect(names(arnOf(key))).toEqual(['Key']);
    expect(names(`arn:aws:s3:::another-bucket/a`)).toEqual([]);
  });

  test('a role allowed everything is still denied what the bucket policy denies, and told so', () => {
    const enforcer = new RoleEnforcer(
      'fn',
      {
        name: 'writer',
        policies: identity(allow('s3:*', '*')),
        unknownManagedPolicies: [],
      },
      'enforce',
      SESSION,
      { policies, roleArn: ROLE },
    );
    const kept = secure('s3:DeleteObject', `${arnOf(bucket)}/kept/a`);
    const verdict = enforcer.check('DeleteObject', [kept], 'function');

    expect(verdict).toEqual({
      allowed: false,
      denied: { request: kept, explicit: true, in: 'resource' },
      proceed: false,
    });
    expect(
      enforcer.check('PutObject', [secure('s3:PutObject', `${arnOf(bucket)}/kept/a`)], 'function')
        .allowed,
    ).toBe(true);
    expect(enforcer.report().denied).toEqual([
      expect.objectContaining({ action: 's3:DeleteObject', explicit: true, in: 'resource' }),
    ]);
  });

  test('the key CDK makes lets the role’s own policy decide', () => {
    const enforcer = (statements: PolicyStatement[]) =>
      new RoleEnforcer(
        'fn',
        { name: 'writer', policies: identity(...statements), unknownManagedPolicies: [] },
        'enforce',
        SESSION,
        { policies, roleArn: ROLE },
      );
    const request = secure('kms:GenerateDataKey', arnOf(key));
    expect(
      enforcer([allow('kms:GenerateDataKey*', arnOf(key))]).check('Publish', [request], 'function')
        .allowed,
    ).toBe(true);
    expect(enforcer([]).check('Publish', [request], 'function').denied).toEqual({
      request,
      explicit: false,
      in: 'identity',
    });
  });
});
