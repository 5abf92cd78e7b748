import type { Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import { LIVE_ALIAS } from '../../lambda/shared/contract';
import {
  CANARY_ALARM_PERIOD,
  CANARY_FAILURE_PERCENT,
  CANARY_MIN_FAILURES,
  CanaryDeployments,
} from '../../lib/constructs/canary';
import { Monitoring } from '../../lib/constructs/monitoring';
import { PipelineFunction } from '../../lib/constructs/pipeline-function';
import { synthPipeline } from '../synth';
import {
  type CfnResourceJson,
  constructsOfType,
  getAtt,
  logicalIdOf,
  ref,
  referencedId,
  resourceById,
  resourcesOfType,
} from '../template-queries';

/**
 * The event source mappings prod had before canary deploys (its reviewed template of the release
 * before). CloudFormation updates a mapping's FunctionName in place only while its logical id
 * stays: a new id is a new mapping, and a new stream mapping starts at TRIM_HORIZON, replaying up
 * to 24 hours of changes as events.
 */
const PROD_MAPPINGS_BEFORE_CANARIES = [
  'ArchiveConsumerFunctionSqsEventSourceCustomerPipelineprodArchiveConsumerQueue8862C8BADC66B1F1',
  'AvatarsDeletionsFunctionSqsEventSourceCustomerPipelineprodAvatarsDeletionsQueue7690B09BC0200793',
  'AvatarsDeletionsFunctionSqsEventSourceCustomerPipelineprodAvatarsUploadsQueue3E5E3A9FC759B484',
  'MarketingConsumerFunctionSqsEventSourceCustomerPipelineprodMarketingConsumerQueueC5392838A8B25D89',
  'StreamPublisherFunctionDynamoDBEventSourceCustomerPipelineprodCustomerTable6A7CF98C6A8B3736',
  'WelcomeConsumerFunctionSqsEventSourceCustomerPipelineprodWelcomeConsumerQueueAB934DF0893EB0C5',
];

/** What each function's new version is judged by: its Lambda errors, and what it serves. */
const ROLLBACK_ALARMS: Record<string, string[]> = {
  api: ['CanaryErrorsAlarm', 'CanaryServerErrorsAlarm'],
  'avatar-upload': ['CanaryErrorsAlarm', 'CanaryServerErrorsAlarm'],
  avatar: ['CanaryErrorsAlarm', 'CanaryFailedRecordsAlarm', 'CanaryServerErrorsAlarm'],
  'stream-publisher': ['CanaryErrorsAlarm', 'CanaryFailedRecordsAlarm'],
  welcome: ['CanaryErrorsAlarm', 'CanaryFailedRecordsAlarm'],
  archive: ['CanaryErrorsAlarm', 'CanaryFailedRecordsAlarm'],
  marketing: ['CanaryErrorsAlarm', 'CanaryFailedRecordsAlarm'],
};

interface MetricStatJson {
  readonly Id: string;
  readonly Expression?: string;
  readonly MetricStat?: {
    readonly Metric: {
      readonly Namespace: string;
      readonly MetricName: string;
      readonly Dimensions: { Name: string; Value: unknown }[];
    };
    readonly Period: number;
    readonly Stat: string;
  };
}

const metricsOf = (alarm: CfnResourceJson) => alarm.Properties.Metrics as MetricStatJson[];

const dimensionsOf = (metric: MetricStatJson) =>
  Object.fromEntries((metric.MetricStat?.Metric.Dimensions ?? []).map((d) => [d.Name, d.Value]));

const mappingsOf = (template: Template) =>
  resourcesOfType(template, 'AWS::Lambda::EventSourceMapping');

/** `<function name>:live`, as CDK writes an alias's function name from the alias's ARN. */
const aliasFunctionName = (aliasId: string) => ({
  'Fn::Join': ['', [{ 'Fn::Select': [6, { 'Fn::Split': [':', ref(aliasId)] }] }, `:${LIVE_ALIAS}`]],
});

describe('canary deploys (prod)', () => {
  let stack: Stack;
  let template: Template;
  let functions: PipelineFunction[];
  const idOf = (construct: Parameters<typeof logicalIdOf>[1]) => logicalIdOf(stack, construct);
  beforeAll(() => {
    ({ stack, template } = synthPipeline('prod'));
    functions = constructsOfType(stack, PipelineFunction);
  });

  const canaryOf = (fn: PipelineFunction) => {
    if (fn.canary === undefined) throw new Error(`${fn.handlerDir} has no canary`);
    return fn.canary;
  };
  const versionIdOf = (fn: PipelineFunction) => idOf(fn.currentVersion);

  test('gives each of the 7 functions a live alias on its current version', () => {
    expect(functions.map((fn) => fn.handlerDir).sort()).toEqual(
      Object.keys(ROLLBACK_ALARMS).sort(),
    );
    for (const fn of functions) {
      const alias = resourceById(template, idOf(canaryOf(fn).alias));
      expect(alias.Properties).toEqual({
        Name: LIVE_ALIAS,
        FunctionName: ref(idOf(fn)),
        FunctionVersion: getAtt(versionIdOf(fn), 'Version'),
      });
      expect(resourceById(template, versionIdOf(fn)).Properties.FunctionName).toEqual(
        ref(idOf(fn)),
      );
    }
    expect(Object.keys(resourcesOfType(template, 'AWS::Lambda::Alias'))).toHaveLength(7);
  });

  test('moves each alias through its own deployment group, 10% for five minutes, rolling back on alarm', () => {
    const [deployments] = constructsOfType(stack, CanaryDeployments);
    if (!deployments) throw new Error('expected the canary deployments');
    const applicationId = idOf(deployments.application);
    const groups = resourcesOfType(template, 'AWS::CodeDeploy::DeploymentGroup');
    expect(Object.keys(groups)).toHaveLength(7);
    const roles = new Set<string | undefined>();
    for (const fn of functions) {
      const { alias, deploymentGroup } = canaryOf(fn);
      const groupId = idOf(deploymentGroup);
      const aliasJson = template.toJSON().Resources[idOf(alias)] as Record<string, unknown>;
      expect(aliasJson.UpdatePolicy).toEqual({
        CodeDeployLambdaAliasUpdate: {
          ApplicationName: ref(applicationId),
          DeploymentGroupName: ref(groupId),
        },
      });
      // The alias moves only once its group, and the group's alarms, watch the new version.
      expect(aliasJson.DependsOn).toContain(groupId);
      const group = resourceById(template, groupId).Properties;
      expect(group).toEqual(
        expect.objectContaining({
          ApplicationName: ref(applicationId),
          DeploymentConfigName: 'CodeDeployDefault.LambdaCanary10Percent5Minutes',
          DeploymentStyle: {
            DeploymentOption: 'WITH_TRAFFIC_CONTROL',
            DeploymentType: 'BLUE_GREEN',
          },
          AutoRollbackConfiguration: {
            Enabled: true,
            Events: [
              'DEPLOYMENT_FAILURE',
              'DEPLOYMENT_STOP_ON_REQUEST',
              'DEPLOYMENT_STOP_ON_ALARM',
            ],
          },
        }),
      );
      roles.add(referencedId(group.ServiceRoleArn));
    }
    // One service role for all, which CodeDeploy assumes, with AWS's policy for Lambda.
    expect(roles.size).toBe(1);
    const [roleId] = [...roles];
    const role = resourceById(template, roleId ?? '').Properties;
    expect(JSON.stringify(role.AssumeRolePolicyDocument)).toContain('codedeploy.amazonaws.com');
    expect(JSON.stringify(role.ManagedPolicyArns)).toContain(
      'service-role/AWSCodeDeployRoleForLambdaLimited',
    );
    expect(role.ManagedPolicyArns).toHaveLength(1);
  });

  test.each(Object.entries(ROLLBACK_ALARMS))(
    'rolls %s back on the alarms of what it serves, and only those',
    (handlerDir, alarmIds) => {
      const fn = functions.find((f) => f.handlerDir === handlerDir);
      if (!fn) throw new Error(`no function ${handlerDir}`);
      const group = resourceById(template, idOf(canaryOf(fn).deploymentGroup)).Properties;
      const configured = (
        group.AlarmConfiguration as { Enabled: boolean; Alarms: { Name: unknown }[] }
      ).Alarms.map((alarm) => referencedId(alarm.Name));
      const expected = alarmIds.map((id) => {
        const alarm = fn.node.tryFindChild(id);
        if (!alarm) throw new Error(`${handlerDir} has no ${id}`);
        return idOf(alarm);
      });
      expect(configured.sort()).toEqual(expected.sort());
    },
  );

  test('judges a function by Lambda errors of the version its alias ran, within the canary', () => {
    for (const fn of functions) {
      const alarm = resourceById(template, idOf(fn.node.findChild('CanaryErrorsAlarm')));
      const stats = metricsOf(alarm).filter((m) => m.MetricStat);
      expect(stats.map((m) => m.MetricStat?.Metric.MetricName).sort()).toEqual([
        'Errors',
        'Invocations',
      ]);
      for (const metric of stats) {
        expect(metric.MetricStat?.Metric.Namespace).toBe('AWS/Lambda');
        expect(dimensionsOf(metric)).toEqual({
          FunctionName: ref(idOf(fn)),
          Resource: { 'Fn::Join': ['', [ref(idOf(fn)), `:${LIVE_ALIAS}`]] },
          ExecutedVersion: getAtt(versionIdOf(fn), 'Version'),
        });
      }
    }
  });

  test.each([
    ['CanaryFailedRecordsAlarm', 'RecordsFailed', ['RecordsReceived']],
    ['CanaryServerErrorsAlarm', 'Answers5xx', ['Answers2xx', 'Answers3xx', 'Answers4xx']],
  ])(
    '%s reads the new version’s own %s (FunctionVersion) against its total',
    (alarmId, failedMetric, others) => {
      const watched = functions.filter((fn) => fn.node.tryFindChild(alarmId));
      expect(watched.length).toBeGreaterThan(0);
      for (const fn of watched) {
        const alarm = resourceById(template, idOf(fn.node.findChild(alarmId)));
        const stats = metricsOf(alarm).filter((m) => m.MetricStat);
        expect(stats.map((m) => m.MetricStat?.Metric.MetricName).sort()).toEqual(
          [failedMetric, ...others].sort(),
        );
        expect(stats.find((m) => m.Id === 'failed')?.MetricStat?.Metric.MetricName).toBe(
          failedMetric,
        );
        for (const metric of stats) {
          expect(metric.MetricStat?.Metric.Namespace).toBe(stack.stackName);
          expect(dimensionsOf(metric)).toEqual({
            service: fn.handlerDir,
            FunctionVersion: getAtt(versionIdOf(fn), 'Version'),
          });
        }
      }
    },
  );

  test('every rollback alarm fires within one minute of the canary’s five, on a share of failures', () => {
    const [deployments] = constructsOfType(stack, CanaryDeployments);
    const [monitoring] = constructsOfType(stack, Monitoring);
    if (!deployments || !monitoring) throw new Error('expected the deployments and monitoring');
    expect(deployments.alarms).toHaveLength(15);
    expect(CANARY_ALARM_PERIOD.toMinutes()).toBeLessThan(5);
    for (const alarmConstruct of deployments.alarms) {
      const alarm = resourceById(template, idOf(alarmConstruct)).Properties;
      expect(alarm).toEqual(
        expect.objectContaining({
          EvaluationPeriods: 1,
          Threshold: CANARY_FAILURE_PERCENT,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          TreatMissingData: 'notBreaching',
          AlarmActions: [ref(idOf(monitoring.alarmTopic))],
        }),
      );
      const metrics = alarm.Metrics as MetricStatJson[];
      for (const metric of metrics.filter((m) => m.MetricStat)) {
        expect(metric.MetricStat?.Period).toBe(CANARY_ALARM_PERIOD.toSeconds());
        expect(metric.MetricStat?.Stat).toBe('Sum');
      }
      const [expression] = metrics.filter((m) => m.Expression);
      expect(expression?.Expression).toMatch(
        new RegExp(`^IF\\(failed >= ${CANARY_MIN_FAILURES}, 100 \\* failed / \\(.+\\), 0\\)$`),
      );
    }
  });

  test('points every event source mapping at its function’s alias, keeping the logical id it had', () => {
    const mappings = mappingsOf(template);
    expect(Object.keys(mappings).sort()).toEqual(PROD_MAPPINGS_BEFORE_CANARIES);
    for (const fn of functions) {
      for (const mapping of fn.node.children.filter((c) => c.node.id.includes('EventSource:'))) {
        expect(mappings[idOf(mapping)]?.Properties.FunctionName).toEqual(
          aliasFunctionName(idOf(canaryOf(fn).alias)),
        );
      }
    }
    const targets = Object.values(mappings).map((m) => JSON.stringify(m.Properties.FunctionName));
    expect(targets.every((target) => target.includes('LiveAlias'))).toBe(true);
  });

  test('sends every API route to the alias, and lets API Gateway invoke only the alias', () => {
    const aliasIds = new Set(functions.map((fn) => idOf(canaryOf(fn).alias)));
    const integrations = Object.values(resourcesOfType(template, 'AWS::ApiGatewayV2::Integration'));
    expect(integrations).toHaveLength(3);
    for (const integration of integrations) {
      expect(aliasIds).toContain(referencedId(integration.Properties.IntegrationUri));
    }
    const permissions = Object.values(resourcesOfType(template, 'AWS::Lambda::Permission')).filter(
      (p) => p.Properties.Principal === 'apigateway.amazonaws.com',
    );
    expect(permissions).toHaveLength(6);
    for (const permission of permissions) {
      expect(aliasIds).toContain(referencedId(permission.Properties.FunctionName));
    }
  });

  test('switches an integration to the alias only once API Gateway may invoke the alias', () => {
    // The first deploy with canaries creates each permission anew (its target changes) while it
    // updates the integrations: without the order, a request could meet an integration whose
    // alias it may not invoke yet (500).
    const resources = template.toJSON().Resources as Record<
      string,
      CfnResourceJson & { DependsOn?: string[] }
    >;
    const permissions = Object.entries(resourcesOfType(template, 'AWS::Lambda::Permission'));
    for (const [id, integration] of Object.entries(
      resourcesOfType(template, 'AWS::ApiGatewayV2::Integration'),
    )) {
      const own = permissions
        .filter(
          ([, p]) =>
            referencedId(p.Properties.FunctionName) ===
            referencedId(integration.Properties.IntegrationUri),
        )
        .map(([permissionId]) => permissionId);
      expect(own.length).toBeGreaterThan(0);
      expect(resources[id]?.DependsOn ?? []).toEqual(expect.arrayContaining(own));
    }
  });
});

describe('all-at-once deploys (dev)', () => {
  let stack: Stack;
  let template: Template;
  beforeAll(() => {
    ({ stack, template } = synthPipeline('dev'));
  });

  test('has no version, alias, deployment group or rollback alarm', () => {
    for (const type of [
      'AWS::Lambda::Version',
      'AWS::Lambda::Alias',
      'AWS::CodeDeploy::Application',
      'AWS::CodeDeploy::DeploymentGroup',
    ]) {
      expect(Object.keys(resourcesOfType(template, type))).toEqual([]);
    }
    expect(constructsOfType(stack, CanaryDeployments)).toEqual([]);
    const alarms = Object.keys(resourcesOfType(template, 'AWS::CloudWatch::Alarm'));
    expect(alarms.filter((id) => id.includes('Canary'))).toEqual([]);
  });

  test('points every mapping and integration at the function itself', () => {
    const functionIds = new Set(
      constructsOfType(stack, PipelineFunction).map((fn) => logicalIdOf(stack, fn)),
    );
    for (const mapping of Object.values(mappingsOf(template))) {
      expect(functionIds).toContain(referencedId(mapping.Properties.FunctionName));
    }
    for (const integration of Object.values(
      resourcesOfType(template, 'AWS::ApiGatewayV2::Integration'),
    )) {
      expect(functionIds).toContain(referencedId(integration.Properties.IntegrationUri));
    }
  });
});
