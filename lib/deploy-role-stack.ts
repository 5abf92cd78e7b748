import { Aws, CfnOutput, Duration, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct, Node } from 'constructs';

/** GitHub Actions' token issuer: the account's OIDC provider for it has this URL. */
export const GITHUB_ISSUER = 'token.actions.githubusercontent.com';

/** The CDK bootstrap roles a deployment assumes, by the tag `cdk bootstrap` gives each. */
export const BOOTSTRAP_ROLES = ['deploy', 'file-publishing', 'image-publishing', 'lookup'] as const;

/** Who may deploy: read from context by `deployRoleConfig`, given on the command line. */
export interface DeployRoleConfig {
  /** The account's IAM OIDC provider for GitHub (an account has one per URL). */
  readonly oidcProviderArn: string;
  /** The repository's owner and name, as in `github.com/<owner>/<repo>`. */
  readonly owner: string;
  readonly repo: string;
  /** The bootstrap stack's qualifier. @default 'hnb659fds' (what `cdk bootstrap` uses) */
  readonly qualifier: string;
}

const OIDC_PROVIDER_ARN = new RegExp(
  `^arn:aws[a-z-]*:iam::\\d{12}:oidc-provider/${GITHUB_ISSUER.replaceAll('.', '\\.')}$`,
);
const GITHUB_NAME = /^[A-Za-z0-9_.-]+$/;
const QUALIFIER = /^[A-Za-z0-9_-]{1,10}$/;

/**
 * The deploy-role app's context: `githubOidcProviderArn`, `githubOwner`, `githubRepo`, and
 * optionally `cdkQualifier`. Each is checked here, so a typo fails the synth rather than
 * deploying a role nobody can assume, or one anybody can.
 */
export const deployRoleConfig = (node: Node): DeployRoleConfig => {
  const read = (key: string, pattern: RegExp, example: string, fallback?: string): string => {
    const value = node.tryGetContext(key) ?? fallback;
    if (typeof value !== 'string' || !pattern.test(value)) {
      throw new Error(
        `context ${key} ${value === undefined ? 'is missing' : `is not valid: ${JSON.stringify(value)}`}; give it with -c ${key}=${example}`,
      );
    }
    return value;
  };
  return {
    oidcProviderArn: read(
      'githubOidcProviderArn',
      OIDC_PROVIDER_ARN,
      `arn:aws:iam::<account>:oidc-provider/${GITHUB_ISSUER}`,
    ),
    owner: read('githubOwner', GITHUB_NAME, '<owner>'),
    repo: read('githubRepo', GITHUB_NAME, '<repo>'),
    qualifier: read('cdkQualifier', QUALIFIER, 'hnb659fds', 'hnb659fds'),
  };
};

/** The token subjects the role trusts: pushes to main (dev) and the prod environment's jobs. */
export const trustedSubjects = ({ owner, repo }: Pick<DeployRoleConfig, 'owner' | 'repo'>) => [
  `repo:${owner}/${repo}:ref:refs/heads/main`,
  `repo:${owner}/${repo}:environment:prod`,
];

export interface DeployRoleStackProps extends StackProps {
  readonly config: DeployRoleConfig;
}

/**
 * The role `.github/workflows/deploy.yml` assumes with GitHub's OIDC token: only this
 * repository's main branch and its prod environment can, and all it can do is assume the CDK
 * bootstrap roles, which do the deploying. Deployed once, by an admin, apart from the pipeline.
 */
export class DeployRoleStack extends Stack {
  public readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: DeployRoleStackProps) {
    super(scope, id, props);
    const { config } = props;
    const provider = iam.OpenIdConnectProvider.fromOpenIdConnectProviderArn(
      this,
      'GitHubOidcProvider',
      config.oidcProviderArn,
    );
    this.role = new iam.Role(this, 'DeployRole', {
      description: `GitHub Actions deploys of ${config.owner}/${config.repo} (main and prod only)`,
      assumedBy: new iam.OpenIdConnectPrincipal(provider, {
        StringEquals: {
          [`${GITHUB_ISSUER}:aud`]: 'sts.amazonaws.com',
          [`${GITHUB_ISSUER}:sub`]: trustedSubjects(config),
        },
      }),
      maxSessionDuration: Duration.hours(1),
    });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['sts:AssumeRole'],
        resources: [`arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:role/cdk-${config.qualifier}-*`],
        conditions: {
          'ForAnyValue:StringEquals': { 'iam:ResourceTag/aws-cdk:bootstrap-role': BOOTSTRAP_ROLES },
        },
      }),
    );
    Validations.of(this.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/cdk-${config.qualifier}-*]`,
      reason:
        'The bootstrap roles are named cdk-<qualifier>-<kind>-<account>-<region>: one wildcard for the kind and region, narrowed to the four bootstrap roles by their aws-cdk:bootstrap-role tag.',
    });
    new CfnOutput(this, 'DeployRoleArn', {
      value: this.role.roleArn,
      description: 'The repository variable DEPLOY_ROLE_ARN',
    });
  }
}
