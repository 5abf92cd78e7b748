#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DeployRoleStack, deployRoleConfig } from '../lib/deploy-role-stack';

// The deploy role for GitHub Actions, apart from the pipeline's app so that a bare `cdk deploy`
// still means the pipeline: `npx cdk deploy -a 'npx tsx bin/deploy-role.ts' -c githubOwner=…`.
const app = new App();
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
new DeployRoleStack(app, 'CustomerPipelineDeployRole', {
  config: deployRoleConfig(app.node),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: 'The role GitHub Actions deploys the customer pipeline with (OIDC)',
});
