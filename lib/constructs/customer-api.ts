import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import {
  AVATAR_UPLOAD_ROUTE,
  AVATAR_UPLOADS_PREFIX,
  CUSTOMER_ROUTES,
  type RouteKey,
  routeParts,
} from '../../lambda/shared/contract';
import type { AssetsBucket } from './assets-bucket';
import type { CanaryDeployments } from './canary';
import { PipelineFunction } from './pipeline-function';

/** Both functions answer clients waiting on the API. */
const API_FUNCTION_SIZING = {
  // Latency-sensitive: more memory is more CPU for cold starts.
  memorySize: 512,
  // Below API Gateway's 30 s integration limit, so the client gets our error.
  timeout: Duration.seconds(10),
};

/**
 * Access log fields. The route key (`GET /customers/{idOrEmail}`), never the raw
 * path: a path can hold an email address, and logs must not.
 */
const ACCESS_LOG_FORMAT = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTime',
  routeKey: '$context.routeKey',
  status: '$context.status',
  protocol: '$context.protocol',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationLatency: '$context.integrationLatency',
  integrationError: '$context.integrationErrorMessage',
  caller: '$context.identity.caller',
  userArn: '$context.identity.userArn',
};

export interface CustomerApiProps {
  readonly table: dynamodb.ITable;
  /**
   * Where presigned avatar uploads go (`avatar-uploads/<id>`). The construct lets
   * `avatarUploadFunction` put objects there and nothing else: the form is signed with its role.
   */
  readonly assetsBucket: AssetsBucket;
  /** The largest avatar upload the presigned form's policy accepts, in bytes. */
  readonly avatarMaxBytes: number;
  readonly throttle: apigwv2.ThrottleSettings;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /**
   * Canary deploys for the function(s) (`PipelineFunction`'s `canary`).
   * @default - deploys reach every invocation at once
   */
  readonly canary?: CanaryDeployments;
}

/**
 * The customer HTTP API: every route requires IAM (SigV4) authorization, the
 * `$default` stage throttles and writes JSON access logs. One function serves the
 * customer routes, another the avatar upload route, each with exactly the table
 * actions it uses.
 */
export class CustomerApi extends Construct {
  public readonly httpApi: apigwv2.HttpApi;
  public readonly stage: apigwv2.HttpStage;
  /** Serves `CUSTOMER_ROUTES`. */
  public readonly function: PipelineFunction;
  /** Serves `AVATAR_UPLOAD_ROUTE`. */
  public readonly avatarUploadFunction: PipelineFunction;
  public readonly accessLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: CustomerApiProps) {
    super(scope, id);

    this.function = new PipelineFunction(this, 'Function', {
      handlerDir: 'api',
      description: 'Serves the customer HTTP API',
      ...API_FUNCTION_SIZING,
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
      canary: props.canary,
      environment: { TABLE_NAME: props.table.tableName },
    });
    // Point reads and transactions of named items: never Query or Scan. Each
    // transaction conditions the items it writes, so it needs no ConditionCheckItem.
    props.table.grant(this.function, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem');

    this.avatarUploadFunction = new PipelineFunction(this, 'AvatarUploadFunction', {
      handlerDir: 'avatar-upload',
      description: 'Presigns avatar uploads to the assets bucket',
      ...API_FUNCTION_SIZING,
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
      canary: props.canary,
      environment: {
        TABLE_NAME: props.table.tableName,
        BUCKET_NAME: props.assetsBucket.bucket.bucketName,
        AVATAR_MAX_BYTES: String(props.avatarMaxBytes),
      },
    });
    // Only the point read that checks the customer exists. (The bench's lifecycle uploads no
    // avatar, so its IAM report lists this grant and the PutObject below as never used.)
    props.table.grant(this.avatarUploadFunction, 'dynamodb:GetItem');
    // A presigned POST is authorized as the role that signed it: PutObject on the uploads' prefix.
    props.assetsBucket.grantObjectActions(
      this.avatarUploadFunction,
      AVATAR_UPLOADS_PREFIX,
      's3:PutObject',
    );

    this.httpApi = new apigwv2.HttpApi(this, 'HttpApi', {
      description: 'Customer API',
      defaultAuthorizer: new HttpIamAuthorizer(),
      // HttpApiProps cannot set throttling or access logs: the stage below does.
      createDefaultStage: false,
    });
    const integration = new HttpLambdaIntegration('Integration', this.function.servedByApi());
    for (const routeKey of Object.values(CUSTOMER_ROUTES)) this.addRoute(routeKey, integration);
    this.addRoute(
      AVATAR_UPLOAD_ROUTE,
      new HttpLambdaIntegration('AvatarUploadIntegration', this.avatarUploadFunction.servedByApi()),
    );

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    this.stage = new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogGroup),
        format: apigateway.AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FORMAT)),
      },
    });
  }

  /** Sends `routeKey` to `fn`, another construct's function (its integration is created here). */
  public serveRoute(routeKey: RouteKey, integrationId: string, fn: PipelineFunction): void {
    this.addRoute(routeKey, new HttpLambdaIntegration(integrationId, fn.servedByApi()));
  }

  private addRoute(routeKey: RouteKey, integration: apigwv2.HttpRouteIntegration): void {
    const { method, path } = routeParts(routeKey);
    this.httpApi.addRoutes({ path, methods: [apigwv2.HttpMethod[method]], integration });
    this.integrateOnlyOncePermitted();
  }

  /**
   * Each integration is created or changed only after the permissions to invoke its target
   * exist. When a deploy points the integrations at a new target (the `live` alias, the first
   * time canary deploys reach a stage), CloudFormation would otherwise switch an integration
   * while the target's permission is still being created, and API Gateway would answer 500.
   */
  private integrateOnlyOncePermitted(): void {
    const stack = Stack.of(this);
    const found = this.httpApi.node.findAll();
    const permissions = found.filter((c) => c instanceof lambda.CfnPermission);
    for (const integration of found.filter((c) => c instanceof apigwv2.CfnIntegration)) {
      const target = JSON.stringify(stack.resolve(integration.integrationUri));
      for (const permission of permissions) {
        if (JSON.stringify(stack.resolve(permission.functionName)) === target) {
          integration.node.addDependency(permission);
        }
      }
    }
  }
}
