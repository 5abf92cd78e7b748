#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { loadStageConfig } from '../lib/config';
import { CustomerPipelineStack } from '../lib/customer-pipeline-stack';

const app = new App();
const config = loadStageConfig(app.node);
Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
new CustomerPipelineStack(app, `CustomerPipeline-${config.stage}`, {
  config,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: `Event-driven customer backend (${config.stage})`,
});
