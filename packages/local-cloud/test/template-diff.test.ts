import type { CfnTemplate } from '../src/model';
import { appliesInPlace, diffTemplates, hasNoLocalEffect } from '../src/template-diff';

// Watch mode re-synthesizes on a change to the stack's code: what changed, and whether the
// running cloud can apply it as Lambda's update APIs would, or needs a restart.

const template = (resources: CfnTemplate['Resources']): CfnTemplate => ({ Resources: resources });

const fn = (environment: Record<string, string>, extra: Record<string, unknown> = {}) => ({
  Type: 'AWS::Lambda::Function',
  Properties: { Handler: 'index.handler', Environment: { Variables: environment }, ...extra },
  Metadata: { 'aws:cdk:path': 'Stack/Fn/Resource' },
});

test('names each resource added, removed or changed, with the properties that changed', () => {
  const before = template({
    Fn: fn({ A: '1' }),
    Queue: { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: 30 } },
    Gone: { Type: 'AWS::SNS::Topic' },
  });
  const after = template({
    Fn: fn({ A: '2' }, { Timeout: 10 }),
    Queue: { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: 60 } },
    New: { Type: 'AWS::S3::Bucket' },
  });

  expect(diffTemplates(before, after)).toEqual([
    {
      logicalId: 'Fn',
      type: 'AWS::Lambda::Function',
      kind: 'changed',
      properties: ['Environment', 'Timeout'],
    },
    {
      logicalId: 'Queue',
      type: 'AWS::SQS::Queue',
      kind: 'changed',
      properties: ['VisibilityTimeout'],
    },
    { logicalId: 'Gone', type: 'AWS::SNS::Topic', kind: 'removed', properties: [] },
    { logicalId: 'New', type: 'AWS::S3::Bucket', kind: 'added', properties: [] },
  ]);
});

test('metadata, DependsOn and CDK’s analytics resource are not changes', () => {
  const before = template({
    Fn: fn({ A: '1' }),
    CDKMetadata: { Type: 'AWS::CDK::Metadata', Properties: { Analytics: 'v2:a' } },
  });
  const after = template({
    Fn: { ...fn({ A: '1' }), Metadata: { 'aws:asset:path': 'asset.123' }, DependsOn: ['Role'] },
    CDKMetadata: { Type: 'AWS::CDK::Metadata', Properties: { Analytics: 'v2:b' } },
  });
  expect(diffTemplates(before, after)).toEqual([]);
});

test.each([
  [
    'a function’s code, environment, memory, timeout',
    'AWS::Lambda::Function',
    ['Code', 'Environment', 'MemorySize', 'Timeout'],
    true,
  ],
  ['a function’s role', 'AWS::Lambda::Function', ['Environment', 'Role'], false],
  ['a function’s runtime', 'AWS::Lambda::Function', ['Runtime'], false],
  [
    'a mapping’s batch size, window and filter',
    'AWS::Lambda::EventSourceMapping',
    ['BatchSize', 'FilterCriteria', 'MaximumBatchingWindowInSeconds'],
    true,
  ],
  ['a mapping’s source', 'AWS::Lambda::EventSourceMapping', ['EventSourceArn'], false],
  [
    'a mapping’s on-failure destination',
    'AWS::Lambda::EventSourceMapping',
    ['DestinationConfig'],
    false,
  ],
  ['a queue', 'AWS::SQS::Queue', ['VisibilityTimeout'], false],
  ['a policy', 'AWS::IAM::Policy', ['PolicyDocument'], false],
])('%s: applied in place? %s', (_, type, properties, expected) => {
  expect(appliesInPlace({ logicalId: 'X', type, kind: 'changed', properties })).toBe(expected);
});

test('an added or removed function needs a restart', () => {
  for (const kind of ['added', 'removed'] as const) {
    expect(
      appliesInPlace({ logicalId: 'X', type: 'AWS::Lambda::Function', kind, properties: [] }),
    ).toBe(false);
  }
});

test('a new version, a retained one and an alias following it apply in place; CodeDeploy and alarms have no effect here', () => {
  const version = (hash: string) => ({
    Type: 'AWS::Lambda::Version',
    Properties: { FunctionName: { Ref: 'Fn' } },
    UpdateReplacePolicy: 'Retain',
    DeletionPolicy: 'Retain',
    Metadata: { hash },
  });
  const alias = (versionId: string, name = 'live') => ({
    Type: 'AWS::Lambda::Alias',
    Properties: {
      FunctionName: { Ref: 'Fn' },
      FunctionVersion: { 'Fn::GetAtt': [versionId, 'Version'] },
      Name: name,
    },
    UpdatePolicy: { CodeDeployLambdaAliasUpdate: { ApplicationName: { Ref: 'App' } } },
  });
  const alarm = (versionId: string) => ({
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      Dimensions: [{ Name: 'ExecutedVersion', Value: { 'Fn::GetAtt': [versionId, 'Version'] } }],
      AlarmActions: [{ Ref: 'Alerts' }],
    },
  });
  const group = (versionId: string) => ({
    Type: 'AWS::CodeDeploy::DeploymentGroup',
    Properties: { AlarmConfiguration: { Alarms: [{ Name: versionId }] } },
  });
  const before = template({
    Fn: fn({}, { Code: { S3Key: 'a.zip' } }),
    FnCurrentVersionA: version('a'),
    FnLive: alias('FnCurrentVersionA'),
    FnErrors: alarm('FnCurrentVersionA'),
    FnDeployment: group('FnCurrentVersionA'),
  });
  const after = template({
    Fn: fn({}, { Code: { S3Key: 'b.zip' } }),
    FnCurrentVersionB: version('b'),
    FnLive: alias('FnCurrentVersionB'),
    FnErrors: alarm('FnCurrentVersionB'),
    FnDeployment: group('FnCurrentVersionB'),
  });

  const changes = diffTemplates(before, after);
  expect(changes.map((c) => [c.logicalId, c.kind, appliesInPlace(c), hasNoLocalEffect(c)])).toEqual(
    [
      ['Fn', 'changed', true, false],
      ['FnCurrentVersionA', 'removed', true, false],
      ['FnLive', 'changed', true, false],
      ['FnErrors', 'changed', false, true],
      ['FnDeployment', 'changed', false, true],
      ['FnCurrentVersionB', 'added', true, false],
    ],
  );
  // Renaming the alias replaces it, and an alarm's actions are read at start-up: restarts.
  expect(
    diffTemplates(
      before,
      template({ ...before.Resources, FnLive: alias('FnCurrentVersionA', 'next') }),
    ).map((c) => appliesInPlace(c) || hasNoLocalEffect(c)),
  ).toEqual([false]);
  const renotified = { ...alarm('FnCurrentVersionA'), Properties: { AlarmActions: [] } };
  expect(
    diffTemplates(before, template({ ...before.Resources, FnErrors: renotified })).map(
      (c) => appliesInPlace(c) || hasNoLocalEffect(c),
    ),
  ).toEqual([false]);
});
