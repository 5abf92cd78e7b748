import { CustomerApi } from '../../lib/constructs/customer-api';
import { synthPipeline } from '../synth';
import {
  constructsOfType,
  logicalIdOf,
  ref,
  referencedId,
  resourceById,
  resourcesOfType,
} from '../template-queries';

const ROUTE_KEYS = [
  'POST /customers',
  'GET /customers/{idOrEmail}',
  'PUT /customers/{id}',
  'DELETE /customers/{id}',
  'POST /customers/{id}/avatar-upload',
];

describe.each([
  ['dev', { rate: 50, burst: 100 }],
  ['prod', { rate: 500, burst: 1000 }],
] as const)('CustomerApi (%s)', (stageName, throttle) => {
  let synthesized: ReturnType<typeof synthPipeline>;
  let apiId: string;
  beforeAll(() => {
    synthesized = synthPipeline(stageName);
    const [api] = constructsOfType(synthesized.stack, CustomerApi);
    if (!api) throw new Error('expected the customer API');
    apiId = logicalIdOf(synthesized.stack, api.httpApi);
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

  test('serves exactly the five customer routes', () => {
    expect(
      routes()
        .map((r) => r.Properties.RouteKey)
        .sort(),
    ).toEqual([...ROUTE_KEYS].sort());
    for (const route of routes()) expect(route.Properties.ApiId).toEqual(ref(apiId));
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
