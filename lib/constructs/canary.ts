import { Duration, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import {
  LIVE_ALIAS,
  METRIC_DIMENSIONS,
  METRICS,
  type MetricName,
} from '../../lambda/shared/contract';

/** Every canary: 10% of invocations for five minutes, then the rest (CodeDeploy's predefined config). */
export const CANARY_DEPLOYMENT_CONFIG = codedeploy.LambdaDeploymentConfig.CANARY_10PERCENT_5MINUTES;

/**
 * The rollback alarms' period. Five one-minute periods fit in the canary's wait; the metrics
 * (Lambda's, and the handlers' EMF lines) arrive within a minute or two, so an alarm can fire
 * while 90% of the traffic is still on the old version.
 */
export const CANARY_ALARM_PERIOD = Duration.minutes(1);

/** A canary rolls back when, in one period, it failed at least this share of its work… */
export const CANARY_FAILURE_PERCENT = 10;
/** …and at least this many times: one transient failure in a quiet minute rolls nothing back. */
export const CANARY_MIN_FAILURES = 3;

/** What a function's new version is judged by, besides its Lambda errors. */
export type CanarySignal = 'records' | 'answers';

export interface CanaryDeploymentsProps {
  /** The namespace the handlers write their business metrics in (`POWERTOOLS_METRICS_NAMESPACE`). */
  readonly metricsNamespace: string;
  /**
   * Notified when a rollback alarm fires, so a rollback never goes unseen.
   * @default - no notification; CodeDeploy still rolls back
   */
  readonly alarmTopic?: sns.ITopic;
}

/** A function whose invokers call its `live` alias, and the deployment group that moves it. */
export interface FunctionCanary {
  readonly alias: lambda.Alias;
  readonly deploymentGroup: codedeploy.LambdaDeploymentGroup;
  /** Adds the rollback alarm for `signal` (once per signal). */
  watch(signal: CanarySignal): void;
}

/** The part of a function a canary needs: its service name is its metrics' `service`. */
export interface CanaryTarget extends lambda.IFunction {
  readonly currentVersion: lambda.Version;
  readonly handlerDir: string;
}

/**
 * Canary deploys for the stack's functions: one CodeDeploy application, one service role, and
 * per function a `live` alias and a deployment group that shifts it `CANARY_DEPLOYMENT_CONFIG`
 * and rolls back when an alarm on the new version fires. The alarms read the new version's own
 * metrics (its `ExecutedVersion`, or the handlers' `FunctionVersion` dimension), so 90% of
 * healthy traffic on the old version cannot hide a canary that fails everything it is given.
 */
export class CanaryDeployments extends Construct {
  public readonly application: codedeploy.LambdaApplication;
  /** Every rollback alarm, for the tests and the dashboard. */
  public readonly alarms: cloudwatch.Alarm[] = [];
  private readonly role: iam.Role;
  private readonly metricsNamespace: string;
  private readonly alarmAction?: cloudwatch.IAlarmAction;

  constructor(scope: Construct, id: string, props: CanaryDeploymentsProps) {
    super(scope, id);
    this.metricsNamespace = props.metricsNamespace;
    this.alarmAction = props.alarmTopic && new actions.SnsAction(props.alarmTopic);
    this.application = new codedeploy.LambdaApplication(this, 'Application');
    // One role for every deployment group (each would otherwise make its own). Each group
    // attaches AWS's AWSCodeDeployRoleForLambdaLimited; the role lists it once.
    this.role = new iam.Role(this, 'ServiceRole', {
      assumedBy: new iam.ServicePrincipal('codedeploy.amazonaws.com'),
      description: 'Shifts the live alias of each pipeline function during a canary deploy',
    });
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited]',
      reason:
        "AWS's policy for CodeDeploy on Lambda: read the alarms, get and update aliases; AWS keeps it in step with what CodeDeploy calls.",
    });
  }

  /**
   * Gives `fn` a `live` alias on its current version and a deployment group that rolls back on
   * the new version's Lambda errors; `watch` adds the alarms of what the function serves. Call it
   * before anything invokes the function, so every invoker can be given the alias.
   */
  public manage(fn: CanaryTarget): FunctionCanary {
    const version = fn.currentVersion;
    const alias = new lambda.Alias(fn, 'LiveAlias', { aliasName: LIVE_ALIAS, version });
    const deploymentGroup = new codedeploy.LambdaDeploymentGroup(fn, 'DeploymentGroup', {
      application: this.application,
      alias,
      role: this.role,
      deploymentConfig: CANARY_DEPLOYMENT_CONFIG,
      autoRollback: { failedDeployment: true, stoppedDeployment: true, deploymentInAlarm: true },
    });

    // Lambda's metrics of the version the alias ran (its ExecutedVersion).
    const lambdaMetric = (metricName: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/Lambda',
        metricName,
        dimensionsMap: {
          FunctionName: fn.functionName,
          Resource: `${fn.functionName}:${LIVE_ALIAS}`,
          ExecutedVersion: version.version,
        },
        period: CANARY_ALARM_PERIOD,
        statistic: cloudwatch.Stats.SUM,
      });
    // The handlers' metrics, with the FunctionVersion they ran as.
    const handlerMetric = (metricName: MetricName) =>
      new cloudwatch.Metric({
        namespace: this.metricsNamespace,
        metricName,
        dimensionsMap: {
          [METRIC_DIMENSIONS.service]: fn.handlerDir,
          [METRIC_DIMENSIONS.functionVersion]: version.version,
        },
        period: CANARY_ALARM_PERIOD,
        statistic: cloudwatch.Stats.SUM,
      });

    const addAlarm = (
      id: string,
      what: string,
      failed: cloudwatch.IMetric,
      total: string,
      using: Record<string, cloudwatch.IMetric>,
    ) => {
      const alarm = new cloudwatch.Alarm(fn, id, {
        alarmDescription: `The new version of ${fn.handlerDir} ${what} during its canary: CodeDeploy rolls it back`,
        metric: new cloudwatch.MathExpression({
          expression: `IF(failed >= ${CANARY_MIN_FAILURES}, 100 * failed / (${total}), 0)`,
          usingMetrics: { failed, ...using },
          period: CANARY_ALARM_PERIOD,
          label: `${what} (% of the new version's)`,
        }),
        threshold: CANARY_FAILURE_PERCENT,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        // No datapoint: the new version had no work that minute, which is no reason to roll back.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      if (this.alarmAction) alarm.addAlarmAction(this.alarmAction);
      deploymentGroup.addAlarm(alarm);
      this.alarms.push(alarm);
    };

    addAlarm('CanaryErrorsAlarm', 'failed invocations', lambdaMetric('Errors'), 'invocations', {
      invocations: lambdaMetric('Invocations'),
    });
    const watched = new Set<CanarySignal>();
    const watch = (signal: CanarySignal): void => {
      if (watched.has(signal)) return;
      watched.add(signal);
      if (signal === 'records') {
        addAlarm(
          'CanaryFailedRecordsAlarm',
          'failed records',
          handlerMetric(METRICS.recordsFailed),
          'received',
          {
            received: handlerMetric(METRICS.recordsReceived),
          },
        );
      } else {
        addAlarm(
          'CanaryServerErrorsAlarm',
          'answered 5xx',
          handlerMetric(METRICS.answers5xx),
          'FILL(answers2xx, 0) + FILL(answers3xx, 0) + FILL(answers4xx, 0) + failed',
          {
            answers2xx: handlerMetric(METRICS.answers2xx),
            answers3xx: handlerMetric(METRICS.answers3xx),
            answers4xx: handlerMetric(METRICS.answers4xx),
          },
        );
      }
    };
    // The alias moves only after its deployment group, and so its alarms, have been updated
    // to the new version: a rollback alarm still watching the old version would see nothing.
    alias.node.addDependency(deploymentGroup);
    return { alias, deploymentGroup, watch };
  }
}
