// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Fn::Sub strings use CloudFormation's ${Name} syntax.
import {
  type ResolveContext,
  referencedLogicalIds,
  resolve,
  resolveString,
  UnresolvableReference,
} from '../src/intrinsics';
import type { PhysicalResource } from '../src/model';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const TABLE_ARN = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/CustomerTable`;
const STREAM_ARN = `${TABLE_ARN}/stream/2026-01-01T00:00:00.000`;
const TOPIC_ARN = `arn:aws:sns:${REGION}:${ACCOUNT}:CustomerEvents`;
const API_FUNCTION_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:CustomerApiFunction`;
const FAILURE_QUEUE_ARN = `arn:aws:sqs:${REGION}:${ACCOUNT}:StreamPublisherFailureQueue`;

const resource = (
  logicalId: string,
  type: string,
  ref: string,
  attributes: Record<string, string> = {},
): PhysicalResource => ({ logicalId, type, ref, attributes });

// Logical ids as in cdk.out/CustomerPipeline-dev.template.json.
const resources: Record<string, PhysicalResource> = Object.fromEntries(
  [
    resource('CustomerTable627C24D6', 'AWS::DynamoDB::Table', 'CustomerTable', {
      Arn: TABLE_ARN,
      StreamArn: STREAM_ARN,
    }),
    resource('CustomerEventsTopic0446D1A2', 'AWS::SNS::Topic', TOPIC_ARN, {
      TopicArn: TOPIC_ARN,
      TopicName: 'CustomerEvents',
    }),
    resource('CustomerApiFunction8035B279', 'AWS::Lambda::Function', 'CustomerApiFunction', {
      Arn: API_FUNCTION_ARN,
    }),
    resource('StreamPublisherFunction7F7A637A', 'AWS::Lambda::Function', 'StreamPublisher', {
      Arn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:StreamPublisher`,
    }),
    resource(
      'StreamPublisherFailureQueue1F2730CD',
      'AWS::SQS::Queue',
      `http://127.0.0.1:4566/${ACCOUNT}/StreamPublisherFailureQueue`,
      { Arn: FAILURE_QUEUE_ARN, QueueName: 'StreamPublisherFailureQueue' },
    ),
    resource('CustomerApiHttpApi727EA387', 'AWS::ApiGatewayV2::Api', 'a1b2c3d4e5'),
    resource('AssetsBucket252B3DF7', 'AWS::S3::Bucket', 'assets-bucket', {
      Arn: 'arn:aws:s3:::assets-bucket',
    }),
  ].map((item) => [item.logicalId, item]),
);

const context: ResolveContext = {
  resources,
  accountId: ACCOUNT,
  region: REGION,
  stackName: 'CustomerPipeline-dev',
  parameters: { BootstrapVersion: '/cdk-bootstrap/hnb659fds/version' },
  conditions: { IsProd: false, HasAlarmEmail: true },
};

/** The error `fn` throws, for asserting on its fields. */
const caught = (fn: () => unknown): UnresolvableReference => {
  try {
    fn();
  } catch (error) {
    if (error instanceof UnresolvableReference) return error;
    throw error;
  }
  throw new Error('expected an UnresolvableReference');
};

describe('Ref', () => {
  it('resolves a resource to its physical ref', () => {
    expect(resolve({ Ref: 'CustomerTable627C24D6' }, context)).toBe('CustomerTable');
  });

  it('resolves every supported pseudo parameter', () => {
    const pseudo = (name: string) => resolve({ Ref: `AWS::${name}` }, context);
    expect(pseudo('AccountId')).toBe(ACCOUNT);
    expect(pseudo('Region')).toBe(REGION);
    expect(pseudo('Partition')).toBe('aws');
    expect(pseudo('StackName')).toBe('CustomerPipeline-dev');
    expect(pseudo('URLSuffix')).toBe('amazonaws.com');
    expect(pseudo('StackId')).toMatch(
      /^arn:aws:cloudformation:us-east-1:123456789012:stack\/CustomerPipeline-dev\/[0-9a-f-]{36}$/,
    );
    expect(pseudo('StackId')).toBe(pseudo('StackId'));
  });

  it('uses the partition and URL suffix the context gives', () => {
    const china = { ...context, partition: 'aws-cn', urlSuffix: 'amazonaws.com.cn' };
    expect(resolve({ 'Fn::Sub': 'arn:${AWS::Partition}:s3:::x.${AWS::URLSuffix}' }, china)).toBe(
      'arn:aws-cn:s3:::x.amazonaws.com.cn',
    );
  });

  it('resolves a template parameter', () => {
    expect(resolve({ Ref: 'BootstrapVersion' }, context)).toBe('/cdk-bootstrap/hnb659fds/version');
  });

  it('drops an object key or array element whose value is AWS::NoValue', () => {
    expect(
      resolve(
        {
          Description: { Ref: 'AWS::NoValue' },
          Queues: [{ Ref: 'AWS::NoValue' }, { Ref: 'StreamPublisherFailureQueue1F2730CD' }],
          Tracing: { 'Fn::If': ['IsProd', 'Active', { Ref: 'AWS::NoValue' }] },
        },
        context,
      ),
    ).toEqual({ Queues: [`http://127.0.0.1:4566/${ACCOUNT}/StreamPublisherFailureQueue`] });
    expect(resolve({ Ref: 'AWS::NoValue' }, context)).toBeUndefined();
  });

  it('names an unknown logical id', () => {
    const error = caught(() =>
      resolve({ Environment: { TABLE_NAME: { Ref: 'MissingTable1234' } } }, context),
    );
    expect(error.reference).toBe('Ref MissingTable1234');
    expect(error.path).toBe('Environment.TABLE_NAME.Ref');
    expect(error.message).toBe(
      'cannot resolve Ref MissingTable1234 at Environment.TABLE_NAME.Ref: no provisioned resource or parameter has this logical id',
    );
  });

  it('names an unsupported pseudo parameter', () => {
    expect(() => resolve({ Ref: 'AWS::NotificationARNs' }, context)).toThrow(
      'cannot resolve Ref AWS::NotificationARNs at Ref: unsupported pseudo parameter',
    );
  });
});

describe('Fn::GetAtt', () => {
  it('resolves the list form (the API integration IntegrationUri)', () => {
    const integration = {
      ApiId: { Ref: 'CustomerApiHttpApi727EA387' },
      IntegrationType: 'AWS_PROXY',
      IntegrationUri: { 'Fn::GetAtt': ['CustomerApiFunction8035B279', 'Arn'] },
      PayloadFormatVersion: '2.0',
    };
    expect(resolve(integration, context)).toEqual({
      ApiId: 'a1b2c3d4e5',
      IntegrationType: 'AWS_PROXY',
      IntegrationUri: API_FUNCTION_ARN,
      PayloadFormatVersion: '2.0',
    });
  });

  it('resolves the dotted string form', () => {
    expect(resolve({ 'Fn::GetAtt': 'CustomerTable627C24D6.StreamArn' }, context)).toBe(STREAM_ARN);
  });

  it('names the resource type and the attributes it has for an unknown attribute', () => {
    const error = caught(() =>
      resolve({ 'Fn::GetAtt': ['CustomerTable627C24D6', 'StreamLabel'] }, context),
    );
    expect(error.reference).toBe('Fn::GetAtt CustomerTable627C24D6.StreamLabel');
    expect(error.message).toContain('AWS::DynamoDB::Table has only Arn, StreamArn');
  });

  it('says when a resource has no attributes at all', () => {
    expect(() =>
      resolve({ 'Fn::GetAtt': ['CustomerApiHttpApi727EA387', 'ApiEndpoint'] }, context),
    ).toThrow('AWS::ApiGatewayV2::Api has no attributes');
  });

  it('names an unknown logical id', () => {
    expect(() => resolve({ 'Fn::GetAtt': 'Nope.Arn' }, context)).toThrow(
      'cannot resolve Fn::GetAtt Nope.Arn at Fn::GetAtt: no provisioned resource has this logical id',
    );
  });
});

describe('Fn::Join', () => {
  it('builds the Lambda permission SourceArn from the template', () => {
    const sourceArn = {
      'Fn::Join': [
        '',
        [
          'arn:aws:execute-api:us-east-1:',
          { Ref: 'AWS::AccountId' },
          ':',
          { Ref: 'CustomerApiHttpApi727EA387' },
          '/*/*/customers/{id}',
        ],
      ],
    };
    expect(resolveString(sourceArn, context)).toBe(
      'arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/*/*/customers/{id}',
    );
  });

  it('builds the ApiUrl output with AWS::URLSuffix', () => {
    const apiUrl = {
      'Fn::Join': [
        '',
        [
          'https://',
          { Ref: 'CustomerApiHttpApi727EA387' },
          '.execute-api.us-east-1.',
          { Ref: 'AWS::URLSuffix' },
          '/',
        ],
      ],
    };
    expect(resolve(apiUrl, context)).toBe(
      'https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/',
    );
  });

  it('joins a list produced by another intrinsic', () => {
    expect(resolve({ 'Fn::Join': ['|', { 'Fn::Split': [',', 'a,b,c'] }] }, context)).toBe('a|b|c');
  });

  it('refuses an object in the list, naming the item', () => {
    expect(() => resolve({ 'Fn::Join': ['', ['a', { nested: true }]] }, context)).toThrow(
      'cannot resolve Fn::Join at Fn::Join: list item 1 is {"nested":true}, not a string',
    );
  });
});

describe('Fn::Sub', () => {
  it('substitutes pseudo parameters (the functions’ code bucket)', () => {
    expect(
      resolve({ 'Fn::Sub': 'cdk-hnb659fds-assets-${AWS::AccountId}-us-east-1' }, context),
    ).toBe('cdk-hnb659fds-assets-123456789012-us-east-1');
    expect(
      resolve(
        {
          'Fn::Sub':
            'arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
        },
        context,
      ),
    ).toBe('arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole');
  });

  it('substitutes ${X} as a Ref and ${X.Attr} as a GetAtt', () => {
    expect(
      resolve(
        { 'Fn::Sub': '${CustomerTable627C24D6} streams from ${CustomerTable627C24D6.StreamArn}' },
        context,
      ),
    ).toBe(`CustomerTable streams from ${STREAM_ARN}`);
  });

  it('keeps ${!Literal} as a literal ${Literal}', () => {
    expect(resolve({ 'Fn::Sub': '${!Literal} and ${AWS::Region}' }, context)).toBe(
      '${Literal} and us-east-1',
    );
  });

  it('resolves variables, including a Join inside one, before substituting', () => {
    const sub = {
      'Fn::Sub': [
        '${Prefix}/${Queue}/${AWS::Region}',
        {
          Prefix: {
            'Fn::Join': ['-', [{ Ref: 'AWS::StackName' }, { Ref: 'CustomerTable627C24D6' }]],
          },
          Queue: { 'Fn::GetAtt': ['StreamPublisherFailureQueue1F2730CD', 'QueueName'] },
        },
      ],
    };
    expect(resolve(sub, context)).toBe(
      'CustomerPipeline-dev-CustomerTable/StreamPublisherFailureQueue/us-east-1',
    );
  });

  it('prefers a variable over a resource of the same name', () => {
    expect(
      resolve({ 'Fn::Sub': ['${CustomerTable627C24D6}', { CustomerTable627C24D6: 'x' }] }, context),
    ).toBe('x');
  });

  it('names an unknown variable', () => {
    expect(() => resolve({ 'Fn::Sub': 'arn:${Missing}' }, context)).toThrow(
      'cannot resolve Ref Missing at Fn::Sub: no provisioned resource or parameter has this logical id',
    );
  });
});

describe('Fn::Select and Fn::Split', () => {
  it('selects from a Split of a GetAtt (the stream label of the table stream ARN)', () => {
    const label = {
      'Fn::Select': [
        3,
        { 'Fn::Split': ['/', { 'Fn::GetAtt': ['CustomerTable627C24D6', 'StreamArn'] }] },
      ],
    };
    expect(resolve(label, context)).toBe('2026-01-01T00:00:00.000');
  });

  it('accepts a string index', () => {
    expect(resolve({ 'Fn::Select': ['1', ['a', 'b']] }, context)).toBe('b');
  });

  it('refuses an index out of range', () => {
    expect(() => resolve({ 'Fn::Select': [2, ['a', 'b']] }, context)).toThrow(
      'index 2 is out of range for a list of 2',
    );
  });

  it('selects from Fn::GetAZs of the context region', () => {
    expect(resolve({ 'Fn::GetAZs': '' }, context)).toEqual([
      'us-east-1a',
      'us-east-1b',
      'us-east-1c',
    ]);
    expect(resolve({ 'Fn::Select': [0, { 'Fn::GetAZs': { Ref: 'AWS::Region' } }] }, context)).toBe(
      'us-east-1a',
    );
  });
});

describe('conditions', () => {
  it('picks the Fn::If branch by the context condition', () => {
    expect(resolve({ 'Fn::If': ['IsProd', 'RETAIN', 'DESTROY'] }, context)).toBe('DESTROY');
    expect(resolve({ 'Fn::If': ['HasAlarmEmail', 'yes', 'no'] }, context)).toBe('yes');
  });

  it('evaluates Equals, Not, And, Or and Condition references', () => {
    const region = { Ref: 'AWS::Region' };
    expect(resolve({ 'Fn::Equals': [region, 'us-east-1'] }, context)).toBe(true);
    expect(resolve({ 'Fn::Not': [{ 'Fn::Equals': [region, 'us-east-1'] }] }, context)).toBe(false);
    expect(
      resolve(
        { 'Fn::And': [{ Condition: 'HasAlarmEmail' }, { 'Fn::Equals': ['a', 'a'] }] },
        context,
      ),
    ).toBe(true);
    expect(resolve({ 'Fn::Or': [{ Condition: 'IsProd' }, { Condition: 'IsProd' }] }, context)).toBe(
      false,
    );
  });

  it('names an unknown condition', () => {
    expect(() => resolve({ 'Fn::If': ['IsStaging', 'a', 'b'] }, context)).toThrow(
      'cannot resolve Condition IsStaging at Fn::If: no such condition',
    );
  });

  it('leaves an IAM statement Condition block alone (the queue policy)', () => {
    const statement = {
      Action: 'sqs:SendMessage',
      Condition: { ArnEquals: { 'aws:SourceArn': { Ref: 'CustomerEventsTopic0446D1A2' } } },
      Effect: 'Allow',
      Principal: { Service: 'sns.amazonaws.com' },
      Resource: { 'Fn::GetAtt': ['StreamPublisherFailureQueue1F2730CD', 'Arn'] },
    };
    expect(resolve(statement, context)).toEqual({
      Action: 'sqs:SendMessage',
      Condition: { ArnEquals: { 'aws:SourceArn': TOPIC_ARN } },
      Effect: 'Allow',
      Principal: { Service: 'sns.amazonaws.com' },
      Resource: FAILURE_QUEUE_ARN,
    });
  });
});

describe('other functions', () => {
  it('encodes Fn::Base64', () => {
    expect(resolve({ 'Fn::Base64': { 'Fn::Sub': '#!/bin/sh ${AWS::Region}' } }, context)).toBe(
      Buffer.from('#!/bin/sh us-east-1').toString('base64'),
    );
  });

  it('refuses Fn::ImportValue: cross-stack references are not supported locally', () => {
    const error = caught(() => resolve({ Value: { 'Fn::ImportValue': 'SharedVpcId' } }, context));
    expect(error.reference).toBe('Fn::ImportValue "SharedVpcId"');
    expect(error.message).toContain('cross-stack references are not supported by the local cloud');
  });

  it('names any other intrinsic function (the bootstrap rule’s Fn::Contains)', () => {
    expect(() =>
      resolve({ 'Fn::Contains': [['1', '2'], { Ref: 'BootstrapVersion' }] }, context),
    ).toThrow(
      'cannot resolve Fn::Contains at Fn::Contains: this intrinsic function is not supported',
    );
  });

  it('leaves plain values, numbers and objects with several keys as they are', () => {
    const value = { BatchSize: 100, Enabled: true, Tags: [{ Key: 'Fn::Join', Value: 'x' }] };
    expect(resolve(value, context)).toEqual(value);
  });
});

describe('the stream publisher event source mapping', () => {
  it('resolves every reference and leaves the FilterCriteria pattern string intact', () => {
    const properties = {
      BatchSize: 100,
      BisectBatchOnFunctionError: true,
      DestinationConfig: {
        OnFailure: {
          Destination: { 'Fn::GetAtt': ['StreamPublisherFailureQueue1F2730CD', 'Arn'] },
        },
      },
      EventSourceArn: { 'Fn::GetAtt': ['CustomerTable627C24D6', 'StreamArn'] },
      FilterCriteria: { Filters: [{ Pattern: '{"dynamodb":{"Keys":{"sk":{"S":["PROFILE"]}}}}' }] },
      FunctionName: { Ref: 'StreamPublisherFunction7F7A637A' },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      StartingPosition: 'TRIM_HORIZON',
    };
    expect(resolve(properties, context)).toEqual({
      ...properties,
      DestinationConfig: { OnFailure: { Destination: FAILURE_QUEUE_ARN } },
      EventSourceArn: STREAM_ARN,
      FunctionName: 'StreamPublisher',
    });
  });
});

describe('resolveString', () => {
  it('refuses a value that does not resolve to a string', () => {
    expect(() => resolveString({ 'Fn::GetAZs': '' }, context)).toThrow(
      'resolves to ["us-east-1a","us-east-1b","us-east-1c"], not a string',
    );
  });
});

describe('referencedLogicalIds', () => {
  it('collects Ref, both GetAtt forms and Sub placeholders, without pseudo parameters', () => {
    const value = {
      a: { Ref: 'CustomerTable627C24D6' },
      b: { 'Fn::GetAtt': ['StreamPublisherFailureQueue1F2730CD', 'Arn'] },
      c: { 'Fn::GetAtt': 'CustomerApiFunction8035B279.Arn' },
      d: {
        'Fn::Sub': [
          'arn:${AWS::Partition}:${Topic}:${CustomerEventsTopic0446D1A2.TopicName}/${AssetsBucket252B3DF7}${!Escaped}',
          { Topic: { Ref: 'CustomerApiHttpApi727EA387' } },
        ],
      },
      e: { Ref: 'AWS::AccountId' },
      f: { 'Fn::If': ['IsProd', { Ref: 'StreamPublisherFunction7F7A637A' }, 'x'] },
      g: { Condition: 'HasAlarmEmail' },
    };
    expect([...referencedLogicalIds(value)].sort()).toEqual([
      'AssetsBucket252B3DF7',
      'CustomerApiFunction8035B279',
      'CustomerApiHttpApi727EA387',
      'CustomerEventsTopic0446D1A2',
      'CustomerTable627C24D6',
      'StreamPublisherFailureQueue1F2730CD',
      'StreamPublisherFunction7F7A637A',
    ]);
  });

  it('finds nothing in a value without references', () => {
    expect(
      referencedLogicalIds({ a: ['x', 1, null], b: { 'Fn::Sub': '${AWS::Region}' } }).size,
    ).toBe(0);
  });
});
