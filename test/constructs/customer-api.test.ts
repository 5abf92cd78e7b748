import { AVATAR_ROUTE, AVATAR_UPLOAD_ROUTE, CUSTOMER_ROUTES } from '../../lambda/shared/contract';
import { AssetsBucket } from '../../lib/constructs/assets-bucket';
import { Avatars } from '../../lib/constructs/avatars';
import { CustomerApi } from '../../lib/constructs/customer-api';
import { CustomerTable } from '../../lib/constructs/customer-table';
import { synthPipeline } from '../synth';
import {
  type CfnResourceJson,
  constructsOfType,
  logicalIdOf,
  ref,
  referencedId,
  resourceById,
  resourcesOfType,
} from '../template-queries';

const API_ROUTE_KEYS = [
  'POST /customers',
  'GET /customers/{idOrEmail}',
  'PUT /customers/{id}',
  'DELETE /customers/{id}',
];
const AVATAR_UPLOAD_ROUTE_KEY = 'POST /customers/{id}/avatar-upload';
const AVATAR_ROUTE_KEY = 'GET /customers/{id}/avatar';
const ROUTE_KEYS = [...API_ROUTE_KEYS, AVATAR_UPLOAD_ROUTE_KEY, AVATAR_ROUTE_KEY];

/** The path of `arn:…:<api id>/<stage>/<method><path>`, as a route-scoped invoke permission names it. */
const sourcePathOf = (permission: CfnResourceJson): string => {
  const { SourceArn } = permission.Properties as { SourceArn: { 'Fn::Join': [string, unknown[]] } };
  const last = SourceArn['Fn::Join'][1].at(-1);
  if (typeof last !== 'string')
    throw new Error(`unexpected SourceArn ${JSON.stringify(SourceArn)}`);
  return last;
};

describe.each([
  ['dev', { rate: 50, burst: 100 }],
  ['prod', { rate: 500, burst: 1000 }],
] as const)('CustomerApi (%s)', (stageName, throttle) => {
  let synthesized: ReturnType<typeof synthPipeline>;
  let apiId: string;
  let apiFunctionId: string;
  let avatarUploadFunctionId: string;
  // What the routes invoke: each function's live alias in prod (canary deploys), else the function.
  let apiTargetId: string;
  let avatarUploadTargetId: string;
  let avatarTargetId: string;
  let tableId: string;
  let bucketId: string;
  beforeAll(() => {
    synthesized = synthPipeline(stageName);
    const { stack } = synthesized;
    const [api] = constructsOfType(stack, CustomerApi);
    if (!api) throw new Error('expected the customer API');
    apiId = logicalIdOf(stack, api.httpApi);
    apiFunctionId = logicalIdOf(stack, api.function);
    avatarUploadFunctionId = logicalIdOf(stack, api.avatarUploadFunction);
    const [avatars] = constructsOfType(stack, Avatars);
    if (!avatars) throw new Error('expected the avatars');
    apiTargetId = logicalIdOf(stack, api.function.target);
    avatarUploadTargetId = logicalIdOf(stack, api.avatarUploadFunction.target);
    avatarTargetId = logicalIdOf(stack, avatars.function.target);
    const [table] = constructsOfType(stack, CustomerTable);
    const [assets] = constructsOfType(stack, AssetsBucket);
    if (!table || !assets) throw new Error('expected the table and the assets bucket');
    tableId = logicalIdOf(stack, table.table);
    bucketId = logicalIdOf(stack, assets.bucket);
  });

  const routes = () =>
    Object.values(resourcesOfType(synthesized.template, 'AWS::ApiGatewayV2::Route'));
  const stage = () => {
    const stages = Object.values(resourcesOfType(synthesized.template, 'AWS::ApiGatewayV2::Stage'));
    expect(stages).toHaveLength(1);
    const [only] = stages;
    if (!only) throw new Error('expected one stage');
    return only.Properties;
  };

  /** The function a route's integration invokes: route → integration → its URI. */
  const functionOfRoute = (route: CfnResourceJson): string | undefined => {
    const { Target } = route.Properties as { Target: { 'Fn::Join': [string, unknown[]] } };
    const [prefix, integrationRef] = Target['Fn::Join'][1];
    expect(prefix).toBe('integrations/');
    const integration = resourceById(synthesized.template, referencedId(integrationRef) ?? '');
    expect(integration.Type).toBe('AWS::ApiGatewayV2::Integration');
    expect(integration.Properties).toEqual(
      expect.objectContaining({ IntegrationType: 'AWS_PROXY', PayloadFormatVersion: '2.0' }),
    );
    return referencedId(integration.Properties.IntegrationUri);
  };
  const invokePermissionsOf = (functionId: string) =>
    Object.values(resourcesOfType(synthesized.template, 'AWS::Lambda::Permission')).filter(
      (p) => referencedId(p.Properties.FunctionName) === functionId,
    );
  const environmentOf = (functionId: string) =>
    (
      resourceById(synthesized.template, functionId).Properties as {
        Environment: { Variables: Record<string, unknown> };
      }
    ).Environment.Variables;

  test('serves exactly the six customer routes', () => {
    expect(
      routes()
        .map((r) => r.Properties.RouteKey)
        .sort(),
    ).toEqual([...ROUTE_KEYS].sort());
    for (const route of routes()) expect(route.Properties.ApiId).toEqual(ref(apiId));
  });

  test("routes exactly the contract's route keys, the ones the handlers dispatch on", () => {
    const served = (functionId: string) =>
      routes()
        .filter((route) => functionOfRoute(route) === functionId)
        .map((route) => route.Properties.RouteKey)
        .sort();
    expect(served(apiTargetId)).toEqual(Object.values(CUSTOMER_ROUTES).sort());
    expect(served(avatarUploadTargetId)).toEqual([AVATAR_UPLOAD_ROUTE]);
    expect(served(avatarTargetId)).toEqual([AVATAR_ROUTE]);
  });

  test('the avatar routes invoke their own functions (the upload form, and the avatar function that also processes uploads); every other route, the API function', () => {
    expect(
      Object.fromEntries(routes().map((r) => [r.Properties.RouteKey, functionOfRoute(r)])),
    ).toEqual({
      ...Object.fromEntries(API_ROUTE_KEYS.map((key) => [key, apiTargetId])),
      [AVATAR_UPLOAD_ROUTE_KEY]: avatarUploadTargetId,
      [AVATAR_ROUTE_KEY]: avatarTargetId,
    });
    expect(new Set([apiTargetId, avatarUploadTargetId, avatarTargetId]).size).toBe(3);
  });

  test('API Gateway may invoke each function only for the routes it serves', () => {
    const paths = (functionId: string) =>
      invokePermissionsOf(functionId).map((p) => {
        expect(p.Properties).toEqual(
          expect.objectContaining({
            Action: 'lambda:InvokeFunction',
            Principal: 'apigateway.amazonaws.com',
          }),
        );
        return sourcePathOf(p);
      });
    expect(paths(avatarUploadTargetId)).toEqual(['/*/*/customers/{id}/avatar-upload']);
    expect(paths(avatarTargetId)).toEqual(['/*/*/customers/{id}/avatar']);
    expect(paths(apiTargetId).sort()).toEqual(
      [
        '/*/*/customers',
        '/*/*/customers/{idOrEmail}',
        '/*/*/customers/{id}',
        '/*/*/customers/{id}',
      ].sort(),
    );
  });

  test('only the avatar upload function is told the bucket', () => {
    expect(environmentOf(apiFunctionId)).toEqual({
      POWERTOOLS_SERVICE_NAME: 'api',
      POWERTOOLS_METRICS_NAMESPACE: synthesized.stack.stackName,
      TABLE_NAME: ref(tableId),
    });
    expect(environmentOf(avatarUploadFunctionId)).toEqual({
      POWERTOOLS_SERVICE_NAME: 'avatar-upload',
      POWERTOOLS_METRICS_NAMESPACE: synthesized.stack.stackName,
      TABLE_NAME: ref(tableId),
      BUCKET_NAME: ref(bucketId),
      // The stage's limit, which the presigned form's policy carries.
      AVATAR_MAX_BYTES: '5242880',
    });
  });

  test('both functions answer within API Gateway’s 30 s limit, with memory for quick cold starts', () => {
    for (const functionId of [apiFunctionId, avatarUploadFunctionId]) {
      const { MemorySize, Timeout } = resourceById(synthesized.template, functionId).Properties;
      expect({ functionId, MemorySize, Timeout }).toEqual({
        functionId,
        MemorySize: 512,
        Timeout: 10,
      });
    }
  });

  test('requires IAM (SigV4) authorization on every route', () => {
    for (const route of routes()) {
      expect(route.Properties).toEqual(
        expect.objectContaining({
          RouteKey: route.Properties.RouteKey,
          AuthorizationType: 'AWS_IAM',
        }),
      );
    }
  });

  test('has one stage, $default, deployed automatically', () => {
    expect(stage()).toEqual(expect.objectContaining({ StageName: '$default', AutoDeploy: true }));
  });

  test(`throttles the stage at ${throttle.rate} requests/s, bursts of ${throttle.burst}`, () => {
    expect(stage().DefaultRouteSettings).toEqual(
      expect.objectContaining({
        ThrottlingRateLimit: throttle.rate,
        ThrottlingBurstLimit: throttle.burst,
      }),
    );
    expect(synthesized.config.apiThrottle).toEqual({
      rateLimit: throttle.rate,
      burstLimit: throttle.burst,
    });
  });

  test('writes access logs to a log group with a retention', () => {
    const { DestinationArn } = stage().AccessLogSettings as { DestinationArn: unknown };
    const logGroupId = referencedId(DestinationArn);
    expect(DestinationArn).toEqual({ 'Fn::GetAtt': [logGroupId, 'Arn'] });
    const logGroup = resourceById(synthesized.template, logGroupId ?? '');
    expect(logGroup.Type).toBe('AWS::Logs::LogGroup');
    expect(logGroup.Properties.RetentionInDays).toBe(synthesized.config.logRetentionDays);
  });

  test('logs JSON with the route key and request id, never the path (it can hold an email)', () => {
    const { Format } = stage().AccessLogSettings as { Format: string };
    const fields = Object.values(JSON.parse(Format) as Record<string, string>);
    expect(fields).toEqual(expect.arrayContaining(['$context.routeKey', '$context.requestId']));
    for (const pathVariable of ['$context.path', '$context.resourcePath', '$context.rawPath']) {
      expect(Format).not.toContain(pathVariable);
    }
  });
});
