import type { CfnTemplate } from '../src/model';
import { appliesInPlace, diffTemplates } from '../src/template-diff';

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
