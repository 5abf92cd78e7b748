import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DeployRoleStack, deployRoleConfig } from '../lib/deploy-role-stack';

const PROVIDER = 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com';
const CONTEXT = { githubOidcProviderArn: PROVIDER, githubOwner: 'acme', githubRepo: 'customers' };
const ENV = { account: '123456789012', region: 'eu-west-1' };

const synth = (context: Record<string, string> = CONTEXT) => {
  const app = new App({ context });
  const stack = new DeployRoleStack(app, 'CustomerPipelineDeployRole', {
    config: deployRoleConfig(app.node),
    env: ENV,
  });
  return { stack, template: Template.fromStack(stack) };
};

describe('the deploy role', () => {
  let synthesized: ReturnType<typeof synth>;
  beforeAll(() => {
    synthesized = synth();
  });

  test('only this repository’s main branch and prod environment can assume it, through GitHub’s OIDC provider', () => {
    synthesized.template.resourceCountIs('AWS::IAM::Role', 1);
    synthesized.template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRoleWithWebIdentity',
            Effect: 'Allow',
            Principal: { Federated: PROVIDER },
            Condition: {
              StringEquals: {
                'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
                'token.actions.githubusercontent.com:sub': [
                  'repo:acme/customers:ref:refs/heads/main',
                  'repo:acme/customers:environment:prod',
                ],
              },
            },
          },
        ],
      },
      MaxSessionDuration: 3600,
    });
  });

  test('may only assume the CDK bootstrap roles, known by their tag', () => {
    synthesized.template.resourceCountIs('AWS::IAM::Policy', 1);
    synthesized.template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRole',
            Effect: 'Allow',
            Resource: {
              'Fn::Join': [
                '',
                [
                  'arn:',
                  { Ref: 'AWS::Partition' },
                  ':iam::',
                  { Ref: 'AWS::AccountId' },
                  ':role/cdk-hnb659fds-*',
                ],
              ],
            },
            Condition: {
              'ForAnyValue:StringEquals': {
                'iam:ResourceTag/aws-cdk:bootstrap-role': [
                  'deploy',
                  'file-publishing',
                  'image-publishing',
                  'lookup',
                ],
              },
            },
          },
        ],
      },
    });
    synthesized.template.hasResourceProperties('AWS::IAM::Role', {
      ManagedPolicyArns: Match.absent(),
      Policies: Match.absent(),
    });
  });

  test('outputs its ARN, the value of the repository variable DEPLOY_ROLE_ARN', () => {
    synthesized.template.hasOutput('DeployRoleArn', {
      Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DeployRole'), 'Arn'] },
    });
  });

  test('takes another bootstrap qualifier', () => {
    const { template } = synth({ ...CONTEXT, cdkQualifier: 'custom1' });
    expect(JSON.stringify(template.toJSON())).toContain(':role/cdk-custom1-*');
  });

  test('has no unacknowledged AwsSolutions (cdk-nag) findings', () => {
    const report = new AwsSolutionsChecks().validateScope(synthesized.stack);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
  });

  test.each([
    ['a missing owner', { githubOwner: undefined }, /context githubOwner is missing/],
    [
      'another issuer’s provider',
      { githubOidcProviderArn: 'arn:aws:iam::123456789012:oidc-provider/example.com' },
      /context githubOidcProviderArn is not valid/,
    ],
    ['a repository name with a wildcard', { githubRepo: '*' }, /context githubRepo is not valid/],
  ])('refuses %s, naming the context key', (_case, change, error) => {
    const context = Object.fromEntries(
      Object.entries({ ...CONTEXT, ...change }).filter(([, v]) => v !== undefined),
    ) as Record<string, string>;
    expect(() => synth(context)).toThrow(error);
  });
});

test('the app synthesizes with the documented command, apart from the pipeline’s app', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'deploy-role-'));
  try {
    const result = spawnSync(
      'npx',
      [
        'cdk',
        'synth',
        '-q',
        '--no-notices',
        '-a',
        'npx tsx bin/deploy-role.ts',
        '-o',
        out,
        '-c',
        `githubOidcProviderArn=${PROVIDER}`,
        '-c',
        'githubOwner=acme',
        '-c',
        'githubRepo=customers',
      ],
      {
        cwd: path.resolve(__dirname, '..'),
        encoding: 'utf8',
        env: {
          ...process.env,
          CDK_DISABLE_CLI_TELEMETRY: 'true',
          AWS_EC2_METADATA_DISABLED: 'true',
        },
      },
    );
    expect(result.stderr).not.toMatch(/Error/);
    expect(result.status).toBe(0);
    expect(fs.readdirSync(out)).toEqual(
      expect.arrayContaining(['CustomerPipelineDeployRole.template.json']),
    );
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}, 120_000);
