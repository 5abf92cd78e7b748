import { RoleEnforcer } from '../src/iam/enforcer';
import { destinationDenial, mappingDenial, runtimeDenials } from '../src/iam/platform';
import type { PolicyStatement } from '../src/iam/types';

// What Lambda does with a function's role: its mapping's reads (checked when the mapping is
// created), its on-failure writes, and the runtime's logs and traces.

const QUEUE = 'arn:aws:sqs:us-east-1:123456789012:orders';
const STREAM =
  'arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-12-01T00:00:00.000';
const WHERE = { region: 'us-east-1', accountId: '123456789012' };

const enforcerWith = (...statements: PolicyStatement[]) =>
  new RoleEnforcer(
    'fn',
    {
      name: 'role',
      policies: [{ name: 'policy', document: { Statement: statements } }],
      unknownManagedPolicies: [],
    },
    'enforce',
    'arn:aws:sts::123456789012:assumed-role/role/fn',
  );

test('an SQS mapping needs ReceiveMessage, DeleteMessage and GetQueueAttributes, named when missing', () => {
  const partial = enforcerWith({
    Effect: 'Allow',
    Action: ['sqs:ReceiveMessage', 'sqs:GetQueueAttributes'],
    Resource: QUEUE,
  });
  expect(mappingDenial(partial, { kind: 'sqs', arn: QUEUE }, 'us-east-1')).toBe(
    `its function's role does not allow sqs:DeleteMessage on ${QUEUE}`,
  );
  const whole = enforcerWith({
    Effect: 'Allow',
    Action: ['sqs:ReceiveMessage', 'sqs:GetQueueAttributes', 'sqs:DeleteMessage'],
    Resource: QUEUE,
  });
  expect(mappingDenial(whole, { kind: 'sqs', arn: QUEUE }, 'us-east-1')).toBeUndefined();
  // The platform's use, in the report: never "unused".
  expect(whole.report().granted.every((g) => g.usedBy.includes('platform'))).toBe(true);
});

test('a stream mapping needs ListStreams on *, the rest on the stream', () => {
  const onStreamOnly = enforcerWith({
    Effect: 'Allow',
    Action: [
      'dynamodb:DescribeStream',
      'dynamodb:GetRecords',
      'dynamodb:GetShardIterator',
      'dynamodb:ListStreams',
    ],
    Resource: STREAM,
  });
  expect(mappingDenial(onStreamOnly, { kind: 'stream', arn: STREAM }, 'us-east-1')).toContain(
    'dynamodb:ListStreams',
  );
});

test('an S3 on-failure destination needs PutObject, with the owner account CDK’s grant conditions on, and ListBucket', () => {
  const bucket = 'arn:aws:s3:::failures';
  const put: PolicyStatement = {
    Effect: 'Allow',
    Action: 's3:PutObject',
    Resource: `${bucket}/aws/lambda/*`,
    Condition: { StringEquals: { 's3:ResourceAccount': '123456789012' } },
  };
  const list: PolicyStatement = { Effect: 'Allow', Action: 's3:ListBucket', Resource: bucket };
  const writes = [
    { action: 's3:PutObject', resource: `${bucket}/aws/lambda/mapping/` },
    { action: 's3:ListBucket', resource: bucket },
  ];
  const both = enforcerWith(put, list);
  expect(destinationDenial(both, writes, 'us-east-1')).toBeUndefined();
  expect(both.report().granted.every((g) => g.usedBy.includes('platform'))).toBe(true);
  expect(destinationDenial(enforcerWith(put), writes, 'us-east-1')).toBe(
    `its function's role does not allow s3:ListBucket on ${bucket}`,
  );
  expect(destinationDenial(enforcerWith(), writes, 'us-east-1')).toContain('s3:PutObject');
});

test('the runtime’s logs need CreateLogStream and PutLogEvents on the log group; traces only with active tracing', () => {
  const logs: PolicyStatement = {
    Effect: 'Allow',
    Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
    Resource: 'arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/fn:*',
  };
  expect(
    runtimeDenials(
      enforcerWith(logs),
      { logGroup: '/aws/lambda/fn', ownLogGroup: true, tracing: false },
      WHERE,
    ),
  ).toEqual([]);
  expect(
    runtimeDenials(
      enforcerWith(logs),
      { logGroup: '/aws/lambda/fn', ownLogGroup: true, tracing: true },
      WHERE,
    ),
  ).toEqual(['xray:PutTraceSegments on *', 'xray:PutTelemetryRecords on *']);
  expect(
    runtimeDenials(
      enforcerWith(),
      { logGroup: '/aws/lambda/other', ownLogGroup: true, tracing: false },
      WHERE,
    ),
  ).toHaveLength(2);
});

test('a log group the template does not define is created by Lambda on the first invocation: logs:CreateLogGroup, the platform’s use', () => {
  const basic = enforcerWith({
    Effect: 'Allow',
    Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
    Resource: '*',
  });
  expect(
    runtimeDenials(
      basic,
      { logGroup: '/aws/lambda/fn', ownLogGroup: false, tracing: false },
      WHERE,
    ),
  ).toEqual([]);
  expect(basic.report().granted.find((g) => g.action === 'logs:CreateLogGroup')?.usedBy).toEqual([
    'platform',
  ]);

  const withoutCreate = enforcerWith({
    Effect: 'Allow',
    Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
    Resource: '*',
  });
  expect(
    runtimeDenials(
      withoutCreate,
      { logGroup: '/aws/lambda/fn', ownLogGroup: false, tracing: false },
      WHERE,
    ),
  ).toEqual([
    'logs:CreateLogGroup on arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/fn',
  ]);
  // A group the template defines exists before the function runs: no CreateLogGroup.
  expect(
    runtimeDenials(
      withoutCreate,
      { logGroup: '/aws/lambda/fn', ownLogGroup: true, tracing: false },
      WHERE,
    ),
  ).toEqual([]);
});
