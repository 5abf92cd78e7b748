import { evaluate, evaluateConditions, matchesAction, matchesResource } from '../src/iam/evaluate';
import type {
  AuthorizationRequest,
  ConditionBlock,
  NamedPolicy,
  PolicyStatement,
} from '../src/iam/types';

const TABLE = 'arn:aws:dynamodb:us-east-1:123456789012:table/Customers';
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:customer-events';
const QUEUE = 'arn:aws:sqs:us-east-1:123456789012:welcome';
const BUCKET = 'arn:aws:s3:::avatars';

const policy = (name: string, ...statements: PolicyStatement[]): NamedPolicy => ({
  name,
  document: { Version: '2012-10-17', Statement: statements },
});

const request = (
  action: string,
  resource: string,
  context: AuthorizationRequest['context'] = {},
): AuthorizationRequest => ({ action, resource, context });

describe('matchesAction', () => {
  test.each([
    ['s3:GetObject', 's3:GetObject', true],
    ['s3:getobject', 'S3:GetObject', true],
    ['s3:Get*', 's3:GetObjectVersion', true],
    ['s3:Get*', 's3:PutObject', false],
    ['s3:*', 'sqs:SendMessage', false],
    ['*', 'dynamodb:PutItem', true],
    ['kms:GenerateDataKey*', 'kms:GenerateDataKey', true],
    ['kms:GenerateDataKey*', 'kms:GenerateDataKeyWithoutPlaintext', true],
    ['kms:GenerateDataKey*', 'kms:Decrypt', false],
    ['s3:Get?bject', 's3:GetObject', true],
    ['s3:Get?bject', 's3:Getbject', false],
    // The whole action must match, not a prefix of it.
    ['dynamodb:Query', 'dynamodb:QueryTable', false],
    // A pattern's other characters are literal, not regular-expression syntax.
    ['sqs:Send.essage', 'sqs:SendMessage', false],
  ])('%s against %s: %s', (pattern, action, expected) => {
    expect(matchesAction(pattern, action)).toBe(expected);
  });
});

describe('matchesResource', () => {
  test.each([
    [TABLE, TABLE, true],
    ['*', TABLE, true],
    ['arn:aws:s3:::Bucket', 'arn:aws:s3:::bucket', false],
    ['arn:aws:s3:::bucket/*', 'arn:aws:s3:::bucket/avatars/2026/a.png', true],
    ['arn:aws:s3:::bucket/*', 'arn:aws:s3:::bucket', false],
    ['arn:aws:s3:::bucket', 'arn:aws:s3:::bucket/key', false],
    ['arn:aws:dynamodb:*:*:table/Customers', TABLE, true],
    [TABLE, `${TABLE}/index/byEmail`, false],
    [`${TABLE}/index/*`, `${TABLE}/index/byEmail`, true],
    // A wildcard spans `:` as well as `/`.
    ['arn:aws:*', TABLE, true],
    [
      'arn:aws:sqs:*:123456789012:dead-letters-?',
      'arn:aws:sqs:us-east-1:123456789012:dead-letters-1',
      true,
    ],
    [
      'arn:aws:sqs:*:123456789012:dead-letters-?',
      'arn:aws:sqs:us-east-1:123456789012:dead-letters-10',
      false,
    ],
  ])('%s against %s: %s', (pattern, arn, expected) => {
    expect(matchesResource(pattern, arn)).toBe(expected);
  });
});

type Context = AuthorizationRequest['context'];

describe('evaluateConditions', () => {
  test.each<[string, ConditionBlock, Context, boolean]>([
    ['no condition holds', {}, {}, true],
    [
      'StringEquals, equal',
      { StringEquals: { 'aws:PrincipalTag/team': 'orders' } },
      { 'aws:PrincipalTag/team': 'orders' },
      true,
    ],
    [
      'StringEquals is case-sensitive',
      { StringEquals: { 'aws:PrincipalTag/team': 'orders' } },
      { 'aws:PrincipalTag/team': 'Orders' },
      false,
    ],
    [
      'StringEquals takes * literally',
      { StringEquals: { 's3:prefix': 'contacts/*' } },
      { 's3:prefix': 'contacts/a' },
      false,
    ],
    [
      'StringEqualsIgnoreCase',
      { StringEqualsIgnoreCase: { 'aws:PrincipalTag/team': 'orders' } },
      { 'aws:PrincipalTag/team': 'ORDERS' },
      true,
    ],
    [
      'StringNotEqualsIgnoreCase',
      { StringNotEqualsIgnoreCase: { 'aws:PrincipalTag/team': 'orders' } },
      { 'aws:PrincipalTag/team': 'ORDERS' },
      false,
    ],
    [
      'StringLike, *',
      { StringLike: { 's3:prefix': 'contacts/*' } },
      { 's3:prefix': 'contacts/a/b' },
      true,
    ],
    [
      'StringLike, * matching nothing',
      { StringLike: { 's3:prefix': 'contacts/*' } },
      { 's3:prefix': 'contacts/' },
      true,
    ],
    ['StringLike, ?', { StringLike: { 's3:prefix': 'v?/' } }, { 's3:prefix': 'v12/' }, false],
    [
      'StringLike is case-sensitive',
      { StringLike: { 's3:prefix': 'contacts/*' } },
      { 's3:prefix': 'Contacts/a' },
      false,
    ],
    [
      'StringNotLike, matching',
      { StringNotLike: { 's3:prefix': 'private/*' } },
      { 's3:prefix': 'private/a' },
      false,
    ],
    [
      'StringNotLike, not matching',
      { StringNotLike: { 's3:prefix': 'private/*' } },
      { 's3:prefix': 'public/a' },
      true,
    ],
    // Several values for one key: any may match (OR); for a negated operator, none may (NOR).
    [
      'StringEquals, one of several',
      { StringEquals: { 'aws:RequestedRegion': ['eu-west-1', 'us-east-1'] } },
      { 'aws:RequestedRegion': 'us-east-1' },
      true,
    ],
    [
      'StringEquals, none of several',
      { StringEquals: { 'aws:RequestedRegion': ['eu-west-1', 'us-east-1'] } },
      { 'aws:RequestedRegion': 'ap-south-1' },
      false,
    ],
    [
      'StringNotEquals, one of several',
      { StringNotEquals: { 'aws:RequestedRegion': ['eu-west-1', 'us-east-1'] } },
      { 'aws:RequestedRegion': 'us-east-1' },
      false,
    ],
    [
      'StringNotEquals, none of several',
      { StringNotEquals: { 'aws:RequestedRegion': ['eu-west-1', 'us-east-1'] } },
      { 'aws:RequestedRegion': 'ap-south-1' },
      true,
    ],
    // Several keys under one operator, and several operators: all must hold (AND).
    [
      'two keys, both hold',
      { StringEquals: { 'aws:RequestedRegion': 'us-east-1', 'aws:PrincipalTag/team': 'orders' } },
      { 'aws:RequestedRegion': 'us-east-1', 'aws:PrincipalTag/team': 'orders' },
      true,
    ],
    [
      'two keys, one fails',
      { StringEquals: { 'aws:RequestedRegion': 'us-east-1', 'aws:PrincipalTag/team': 'orders' } },
      { 'aws:RequestedRegion': 'us-east-1', 'aws:PrincipalTag/team': 'billing' },
      false,
    ],
    [
      'two operators, one fails',
      {
        StringEquals: { 'aws:RequestedRegion': 'us-east-1' },
        Bool: { 'aws:SecureTransport': 'true' },
      },
      { 'aws:RequestedRegion': 'us-east-1', 'aws:SecureTransport': 'false' },
      false,
    ],
    // Keys compare without regard to case, on either side.
    [
      'keys ignore case',
      { ArnEquals: { 'AWS:SourceArn': TOPIC } },
      { 'aws:sourcearn': TOPIC },
      true,
    ],
    // An absent key: false for a plain operator, true for a negated one (the guide's "Condition operators").
    ['StringEquals, key absent', { StringEquals: { 's3:prefix': 'contacts/' } }, {}, false],
    ['StringNotEquals, key absent', { StringNotEquals: { 's3:prefix': 'contacts/' } }, {}, true],
    ['ArnNotLike, key absent', { ArnNotLike: { 'aws:SourceArn': TOPIC } }, {}, true],
    [
      'StringLike, key present with no values',
      { StringLike: { 'aws:TagKeys': '*' } },
      { 'aws:TagKeys': [] },
      false,
    ],
    // ...IfExists: an absent key holds; a present one is compared as usual.
    [
      'StringEqualsIfExists, key absent',
      { StringEqualsIfExists: { 'ec2:InstanceType': 't3.micro' } },
      {},
      true,
    ],
    [
      'StringEqualsIfExists, equal',
      { StringEqualsIfExists: { 'ec2:InstanceType': 't3.micro' } },
      { 'ec2:InstanceType': 't3.micro' },
      true,
    ],
    [
      'StringEqualsIfExists, different',
      { StringEqualsIfExists: { 'ec2:InstanceType': 't3.micro' } },
      { 'ec2:InstanceType': 'm5.large' },
      false,
    ],
    [
      'BoolIfExists, key absent',
      { BoolIfExists: { 'aws:MultiFactorAuthPresent': 'false' } },
      {},
      true,
    ],
    [
      'StringNotEqualsIfExists, equal',
      { StringNotEqualsIfExists: { 'ec2:InstanceType': 't3.micro' } },
      { 'ec2:InstanceType': 't3.micro' },
      false,
    ],
    // Null tests presence alone.
    ['Null true, key absent', { Null: { 'aws:TokenIssueTime': 'true' } }, {}, true],
    [
      'Null true, key present',
      { Null: { 'aws:TokenIssueTime': 'true' } },
      { 'aws:TokenIssueTime': '2026-01-01T00:00:00Z' },
      false,
    ],
    [
      'Null false, key present',
      { Null: { 'aws:TokenIssueTime': false } },
      { 'aws:TokenIssueTime': '2026-01-01T00:00:00Z' },
      true,
    ],
    ['Null false, key absent', { Null: { 'aws:TokenIssueTime': 'false' } }, {}, false],
    // Bool: the policy's value as CloudFormation ("true") or a person (true, "True") writes it.
    [
      'Bool, "true"',
      { Bool: { 'aws:SecureTransport': 'true' } },
      { 'aws:SecureTransport': 'true' },
      true,
    ],
    [
      'Bool, true',
      { Bool: { 'aws:SecureTransport': true } },
      { 'aws:SecureTransport': 'true' },
      true,
    ],
    [
      'Bool, "True"',
      { Bool: { 'aws:SecureTransport': 'True' } },
      { 'aws:SecureTransport': 'true' },
      true,
    ],
    [
      'Bool, different',
      { Bool: { 'aws:SecureTransport': false } },
      { 'aws:SecureTransport': 'true' },
      false,
    ],
    ['Bool, key absent', { Bool: { 'aws:SecureTransport': 'false' } }, {}, false],
    // ARNs: compared part by part, so a wildcard stays within its part (unlike StringLike's).
    ['ArnEquals', { ArnEquals: { 'aws:SourceArn': TOPIC } }, { 'aws:SourceArn': TOPIC }, true],
    [
      'ArnEquals, another topic',
      { ArnEquals: { 'aws:SourceArn': TOPIC } },
      { 'aws:SourceArn': `${TOPIC}-2` },
      false,
    ],
    [
      'ArnLike, * within parts',
      { ArnLike: { 'aws:SourceArn': 'arn:aws:sns:*:123456789012:*' } },
      { 'aws:SourceArn': TOPIC },
      true,
    ],
    [
      'ArnLike, another account',
      { ArnLike: { 'aws:SourceArn': 'arn:aws:sns:*:210987654321:*' } },
      { 'aws:SourceArn': TOPIC },
      false,
    ],
    [
      'ArnLike, a * cannot stand for several parts',
      { ArnLike: { 'aws:SourceArn': 'arn:aws:sns:*' } },
      { 'aws:SourceArn': TOPIC },
      false,
    ],
    [
      'StringLike, a * can',
      { StringLike: { 'aws:SourceArn': 'arn:aws:sns:*' } },
      { 'aws:SourceArn': TOPIC },
      true,
    ],
    [
      'ArnLike, the resource part keeps its colons',
      { ArnLike: { 'aws:SourceArn': 'arn:aws:lambda:us-east-1:123456789012:function:*' } },
      { 'aws:SourceArn': 'arn:aws:lambda:us-east-1:123456789012:function:welcome:live' },
      true,
    ],
    [
      'ArnLike is case-sensitive',
      { ArnLike: { 'aws:SourceArn': TOPIC.toUpperCase() } },
      { 'aws:SourceArn': TOPIC },
      false,
    ],
    [
      'ArnNotEquals, another topic',
      { ArnNotEquals: { 'aws:SourceArn': TOPIC } },
      { 'aws:SourceArn': `${TOPIC}-2` },
      true,
    ],
    [
      'ArnLike, a value with five parts',
      { ArnLike: { 'aws:SourceArn': 'arn:aws:sns:*:*:*' } },
      { 'aws:SourceArn': 'arn:aws:sns:us-east-1:123456789012' },
      false,
    ],
    [
      'ArnLike, not an ARN',
      { ArnLike: { 'aws:SourceArn': '*' } },
      { 'aws:SourceArn': TOPIC },
      false,
    ],
    // Numbers, dates, addresses.
    [
      'NumericLessThan, less',
      { NumericLessThan: { 's3:max-keys': '10' } },
      { 's3:max-keys': '5' },
      true,
    ],
    [
      'NumericLessThan, equal',
      { NumericLessThan: { 's3:max-keys': 10 } },
      { 's3:max-keys': '10' },
      false,
    ],
    [
      'NumericLessThanEquals, equal',
      { NumericLessThanEquals: { 's3:max-keys': 10 } },
      { 's3:max-keys': '10' },
      true,
    ],
    [
      'NumericGreaterThan',
      { NumericGreaterThan: { 's3:max-keys': '10' } },
      { 's3:max-keys': '11' },
      true,
    ],
    [
      'NumericGreaterThanEquals',
      { NumericGreaterThanEquals: { 's3:max-keys': '10' } },
      { 's3:max-keys': '9' },
      false,
    ],
    [
      'NumericEquals, 10 and "10.0"',
      { NumericEquals: { 's3:max-keys': 10 } },
      { 's3:max-keys': '10.0' },
      true,
    ],
    [
      'NumericNotEquals',
      { NumericNotEquals: { 's3:max-keys': [10, 20] } },
      { 's3:max-keys': '20' },
      false,
    ],
    [
      'NumericLessThan, not a number',
      { NumericLessThan: { 's3:max-keys': '10' } },
      { 's3:max-keys': 'many' },
      false,
    ],
    [
      'NumericLessThan, empty',
      { NumericLessThan: { 's3:max-keys': '10' } },
      { 's3:max-keys': '' },
      false,
    ],
    [
      'DateGreaterThan, ISO 8601',
      { DateGreaterThan: { 'aws:CurrentTime': '2026-01-01T00:00:00Z' } },
      { 'aws:CurrentTime': '2026-06-01T12:00:00Z' },
      true,
    ],
    [
      'DateLessThan, ISO 8601',
      { DateLessThan: { 'aws:CurrentTime': '2026-01-01T00:00:00Z' } },
      { 'aws:CurrentTime': '2026-06-01T12:00:00Z' },
      false,
    ],
    [
      'DateLessThanEquals, epoch seconds against ISO 8601',
      { DateLessThanEquals: { 'aws:EpochTime': '2026-01-01T00:00:00Z' } },
      { 'aws:EpochTime': '1767225600' },
      true,
    ],
    [
      'DateEquals, epoch seconds',
      { DateEquals: { 'aws:EpochTime': 1767225600 } },
      { 'aws:EpochTime': '1767225600' },
      true,
    ],
    [
      'DateGreaterThanEquals',
      { DateGreaterThanEquals: { 'aws:CurrentTime': '2026-01-01T00:00:00Z' } },
      { 'aws:CurrentTime': '2025-12-31T23:59:59Z' },
      false,
    ],
    [
      'DateNotEquals',
      { DateNotEquals: { 'aws:CurrentTime': '2026-01-01T00:00:00Z' } },
      { 'aws:CurrentTime': '2026-01-01T00:00:00.000Z' },
      false,
    ],
    [
      'IpAddress, in range',
      { IpAddress: { 'aws:SourceIp': '203.0.113.0/24' } },
      { 'aws:SourceIp': '203.0.113.7' },
      true,
    ],
    [
      'IpAddress, out of range',
      { IpAddress: { 'aws:SourceIp': '203.0.113.0/24' } },
      { 'aws:SourceIp': '198.51.100.7' },
      false,
    ],
    [
      'IpAddress, one address',
      { IpAddress: { 'aws:SourceIp': '203.0.113.7' } },
      { 'aws:SourceIp': '203.0.113.7' },
      true,
    ],
    [
      'IpAddress, IPv6',
      { IpAddress: { 'aws:SourceIp': '2001:db8::/32' } },
      { 'aws:SourceIp': '2001:db8:1::5' },
      true,
    ],
    [
      'IpAddress, IPv4 against an IPv6 range',
      { IpAddress: { 'aws:SourceIp': '2001:db8::/32' } },
      { 'aws:SourceIp': '203.0.113.7' },
      false,
    ],
    [
      'IpAddress, a bad prefix',
      { IpAddress: { 'aws:SourceIp': '203.0.113.0/33' } },
      { 'aws:SourceIp': '203.0.113.7' },
      false,
    ],
    [
      'NotIpAddress, out of range',
      { NotIpAddress: { 'aws:SourceIp': '203.0.113.0/24' } },
      { 'aws:SourceIp': '198.51.100.7' },
      true,
    ],
    [
      'NotIpAddress, in range',
      { NotIpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '203.0.113.0/24'] } },
      { 'aws:SourceIp': '203.0.113.7' },
      false,
    ],
    // Policy variables are not substituted.
    [
      'a policy variable is literal text',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: IAM's policy variable, as IAM writes it
      { StringEquals: { 's3:prefix': '${aws:username}/' } },
      { 's3:prefix': 'alice/', 'aws:username': 'alice' },
      false,
    ],
  ])('%s', (_name, block, context, expected) => {
    expect(evaluateConditions(block, context)).toBe(expected);
  });

  describe('set qualifiers on a multivalued key (aws:TagKeys)', () => {
    const anyValue = { 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['team', 'cost-centre'] } };
    const allValues = { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['team', 'cost-centre'] } };
    // The guide's own example ("Multivalued context key examples"): a Deny that matches when
    // any tag key lacks the prefix, or when the request has no tag keys at all.
    const allNotLike = { 'ForAllValues:StringNotLike': { 'aws:TagKeys': 'key1*' } };

    test.each<[string, ConditionBlock, Context, boolean]>([
      ['ForAnyValue, one in common', anyValue, { 'aws:TagKeys': ['team', 'owner'] }, true],
      ['ForAnyValue, none in common', anyValue, { 'aws:TagKeys': ['owner'] }, false],
      ['ForAnyValue, key absent', anyValue, {}, false],
      ['ForAnyValue, no values', anyValue, { 'aws:TagKeys': [] }, false],
      [
        'ForAnyValue ignores IfExists',
        { 'ForAnyValue:StringEqualsIfExists': { 'aws:TagKeys': 'team' } },
        {},
        false,
      ],
      ['ForAnyValue, a single value', anyValue, { 'aws:TagKeys': 'team' }, true],
      ['ForAllValues, a subset', allValues, { 'aws:TagKeys': ['team', 'cost-centre'] }, true],
      ['ForAllValues, one outside', allValues, { 'aws:TagKeys': ['team', 'owner'] }, false],
      ['ForAllValues, key absent', allValues, {}, true],
      ['ForAllValues, no values', allValues, { 'aws:TagKeys': [] }, true],
      [
        'ForAllValues:StringNotLike, all lack the prefix',
        allNotLike,
        { 'aws:TagKeys': ['key2:audit'] },
        true,
      ],
      [
        'ForAllValues:StringNotLike, one has it',
        allNotLike,
        { 'aws:TagKeys': ['key1:hr', 'key2:audit'] },
        false,
      ],
      ['ForAllValues:StringNotLike, key absent', allNotLike, {}, true],
      [
        'ForAnyValue:StringNotEquals, one outside',
        { 'ForAnyValue:StringNotEquals': { 'aws:TagKeys': ['team'] } },
        { 'aws:TagKeys': ['team', 'owner'] },
        true,
      ],
      [
        'ForAnyValue:StringNotEquals, none outside',
        { 'ForAnyValue:StringNotEquals': { 'aws:TagKeys': ['team'] } },
        { 'aws:TagKeys': ['team'] },
        false,
      ],
      // Without a qualifier (which the guide asks for), a multivalued key matches when any
      // value does, and a negated operator holds when none does.
      [
        'StringEquals on several values',
        { StringEquals: { 'aws:TagKeys': 'team' } },
        { 'aws:TagKeys': ['owner', 'team'] },
        true,
      ],
      [
        'StringNotEquals on several values',
        { StringNotEquals: { 'aws:TagKeys': 'team' } },
        { 'aws:TagKeys': ['owner', 'team'] },
        false,
      ],
    ])('%s', (_name, block, context, expected) => {
      expect(evaluateConditions(block, context)).toBe(expected);
    });
  });

  describe('an operator this evaluator does not know', () => {
    test.each([
      'StringEqualsSometimes',
      'BinaryEquals',
      'NullIfExists',
      'ForAnyValue:Null',
      'ForSomeValues:StringEquals',
      'stringequals',
      'toString',
    ])('%s is unsupported, not true or false', (operator) => {
      expect(evaluateConditions({ [operator]: { 's3:prefix': 'a' } }, { 's3:prefix': 'a' })).toBe(
        'unsupported',
      );
    });

    it('is decided by a known operator that fails', () => {
      const block = {
        BinaryEquals: { 'x:key': 'QmluYXJ5' },
        Bool: { 'aws:SecureTransport': 'true' },
      };
      expect(evaluateConditions(block, { 'aws:SecureTransport': 'false' })).toBe(false);
      expect(evaluateConditions(block, { 'aws:SecureTransport': 'true' })).toBe('unsupported');
    });
  });
});

describe('evaluate', () => {
  const readTable = policy('ReadTable', {
    Effect: 'Allow',
    Action: ['dynamodb:GetItem', 'dynamodb:Query'],
    Resource: [TABLE, `${TABLE}/index/*`],
  });

  it('allows a call a statement covers, naming the statement', () => {
    expect(evaluate([readTable], request('dynamodb:Query', `${TABLE}/index/byEmail`))).toEqual({
      effect: 'allow',
      allowedBy: [{ policy: 'ReadTable', index: 0 }],
    });
  });

  test.each([
    ['an action no statement lists', [readTable], request('dynamodb:PutItem', TABLE)],
    ['a resource no statement lists', [readTable], request('dynamodb:GetItem', `${TABLE}-archive`)],
    ['a call when there are no policies', [], request('dynamodb:GetItem', TABLE)],
  ])('implicitly denies %s', (_name, policies, call) => {
    expect(evaluate(policies, call)).toEqual({ effect: 'implicit-deny' });
  });

  it('compares the action without regard to case, the resource with it', () => {
    expect(evaluate([readTable], request('DynamoDB:getitem', TABLE)).effect).toBe('allow');
    expect(evaluate([readTable], request('dynamodb:GetItem', TABLE.toLowerCase())).effect).toBe(
      'implicit-deny',
    );
  });

  it('lets an explicit Deny win over Allows, in any policy and any order', () => {
    const admin = policy('Admin', { Effect: 'Allow', Action: '*', Resource: '*' });
    const noDeletes = policy('NoDeletes', {
      Sid: 'KeepCustomers',
      Effect: 'Deny',
      Action: 'dynamodb:Delete*',
      Resource: TABLE,
    });
    const expected = {
      effect: 'deny',
      deniedBy: { policy: 'NoDeletes', index: 0, sid: 'KeepCustomers' },
    };
    expect(evaluate([admin, noDeletes], request('dynamodb:DeleteItem', TABLE))).toEqual(expected);
    expect(evaluate([noDeletes, admin], request('dynamodb:DeleteItem', TABLE))).toEqual(expected);
    expect(evaluate([admin, noDeletes], request('dynamodb:PutItem', TABLE)).effect).toBe('allow');
  });

  it('lists every Allow that applies, across policies, and no other', () => {
    const events = policy(
      'Events',
      { Sid: 'Publish', Effect: 'Allow', Action: 'sns:Publish', Resource: TOPIC },
      { Sid: 'Send', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: QUEUE },
      { Sid: 'AnySns', Effect: 'Allow', Action: 'sns:*', Resource: '*' },
    );
    const broad = policy('Broad', {
      Effect: 'Allow',
      Action: 'sns:Pub*',
      Resource: 'arn:aws:sns:*',
    });
    expect(evaluate([events, broad], request('sns:Publish', TOPIC))).toEqual({
      effect: 'allow',
      allowedBy: [
        { policy: 'Events', index: 0, sid: 'Publish' },
        { policy: 'Events', index: 2, sid: 'AnySns' },
        { policy: 'Broad', index: 0 },
      ],
    });
  });

  it('reads a single statement object as a list of one', () => {
    const single: NamedPolicy = {
      name: 'Single',
      document: { Statement: { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: QUEUE } },
    };
    expect(evaluate([single], request('sqs:SendMessage', QUEUE))).toEqual({
      effect: 'allow',
      allowedBy: [{ policy: 'Single', index: 0 }],
    });
    expect(evaluate([single], request('sqs:DeleteMessage', QUEUE)).effect).toBe('implicit-deny');
  });

  it('covers every action but those NotAction lists', () => {
    const allButIam = policy('AllButIam', { Effect: 'Allow', NotAction: 'iam:*', Resource: '*' });
    expect(evaluate([allButIam], request('s3:GetObject', `${BUCKET}/a.png`)).effect).toBe('allow');
    expect(evaluate([allButIam], request('iam:CreateUser', '*')).effect).toBe('implicit-deny');

    const onlySqs = policy('OnlySqs', { Effect: 'Deny', NotAction: 'sqs:*', Resource: '*' });
    const admin = policy('Admin', { Effect: 'Allow', Action: '*', Resource: '*' });
    expect(evaluate([admin, onlySqs], request('sns:Publish', TOPIC)).effect).toBe('deny');
    expect(evaluate([admin, onlySqs], request('sqs:SendMessage', QUEUE)).effect).toBe('allow');
  });

  it('covers every resource but those NotResource lists', () => {
    const notPrivate = policy('NotPrivate', {
      Effect: 'Allow',
      Action: 's3:GetObject',
      NotResource: `${BUCKET}/private/*`,
    });
    expect(evaluate([notPrivate], request('s3:GetObject', `${BUCKET}/public/a.png`)).effect).toBe(
      'allow',
    );
    expect(evaluate([notPrivate], request('s3:GetObject', `${BUCKET}/private/a.png`)).effect).toBe(
      'implicit-deny',
    );
  });

  it('ignores a statement without Action or NotAction', () => {
    const noAction = policy('NoAction', { Effect: 'Allow', Resource: '*' });
    expect(evaluate([noAction], request('s3:GetObject', BUCKET)).effect).toBe('implicit-deny');
  });

  it('lists object versions only under the prefix s3:prefix names', () => {
    const contacts = policy('Contacts', {
      Effect: 'Allow',
      Action: 's3:ListBucketVersions',
      Resource: BUCKET,
      Condition: { StringLike: { 's3:prefix': 'contacts/*' } },
    });
    const list = (context: AuthorizationRequest['context']) =>
      evaluate([contacts], request('s3:ListBucketVersions', BUCKET, context)).effect;
    expect(list({ 's3:prefix': 'contacts/abc' })).toBe('allow');
    expect(list({ 's3:prefix': 'other/' })).toBe('implicit-deny');
    expect(list({})).toBe('implicit-deny');
  });

  describe('a TLS-only Deny (Bool aws:SecureTransport "false")', () => {
    // As CDK writes a bucket's enforceSSL statement, here in an identity policy.
    const readAvatars = policy('ReadAvatars', {
      Effect: 'Allow',
      Action: 's3:GetObject',
      Resource: `${BUCKET}/*`,
    });
    const tlsOnly = policy('TlsOnly', {
      Effect: 'Deny',
      Action: 's3:*',
      Resource: [BUCKET, `${BUCKET}/*`],
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    });
    test.each([
      ['over plain HTTP', 'deny', { 'aws:SecureTransport': 'false' }],
      ['over TLS', 'allow', { 'aws:SecureTransport': 'true' }],
      ['with no aws:SecureTransport', 'allow', {}],
    ])('%s: %s', (_name, expected, context) => {
      const call = request('s3:GetObject', `${BUCKET}/a.png`, context);
      expect(evaluate([readAvatars, tlsOnly], call).effect).toBe(expected);
    });
  });

  describe('aws:SourceArn conditions', () => {
    const fromTopic = policy('FromTopic', {
      Effect: 'Allow',
      Action: 'sqs:SendMessage',
      Resource: QUEUE,
      Condition: { ArnEquals: { 'aws:SourceArn': TOPIC } },
    });
    const fromAccountTopics = policy('FromAccountTopics', {
      Effect: 'Allow',
      Action: 'sqs:SendMessage',
      Resource: QUEUE,
      Condition: { ArnLike: { 'aws:SourceArn': 'arn:aws:sns:*:123456789012:*' } },
    });
    test.each([
      { allow: fromTopic, source: TOPIC, expected: 'allow' },
      { allow: fromTopic, source: `${TOPIC}-audit`, expected: 'implicit-deny' },
      { allow: fromTopic, source: undefined, expected: 'implicit-deny' },
      { allow: fromAccountTopics, source: `${TOPIC}-audit`, expected: 'allow' },
      {
        allow: fromAccountTopics,
        source: 'arn:aws:sns:us-east-1:210987654321:customer-events',
        expected: 'implicit-deny',
      },
      { allow: fromAccountTopics, source: BUCKET, expected: 'implicit-deny' },
    ])('$allow.name, aws:SourceArn $source: $expected', ({ allow, source, expected }) => {
      const context: AuthorizationRequest['context'] =
        source === undefined ? {} : { 'aws:SourceArn': source };
      expect(evaluate([allow], request('sqs:SendMessage', QUEUE, context)).effect).toBe(expected);
    });
  });

  it('applies a StringEqualsIfExists Allow when the key is absent, not when it differs', () => {
    const sameRegion = policy('SameRegion', {
      Effect: 'Allow',
      Action: 'dynamodb:GetItem',
      Resource: TABLE,
      Condition: { StringEqualsIfExists: { 'aws:RequestedRegion': 'us-east-1' } },
    });
    const get = (context: AuthorizationRequest['context']) =>
      evaluate([sameRegion], request('dynamodb:GetItem', TABLE, context)).effect;
    expect(get({})).toBe('allow');
    expect(get({ 'aws:RequestedRegion': 'us-east-1' })).toBe('allow');
    expect(get({ 'aws:RequestedRegion': 'eu-west-1' })).toBe('implicit-deny');
  });

  it('applies ForAnyValue and ForAllValues to a multivalued key', () => {
    const tagging = policy(
      'Tagging',
      {
        Effect: 'Allow',
        Action: 'sqs:TagQueue',
        Resource: QUEUE,
        Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['team', 'cost-centre'] } },
      },
      {
        Effect: 'Deny',
        Action: 'sqs:TagQueue',
        Resource: QUEUE,
        Condition: { 'ForAnyValue:StringLike': { 'aws:TagKeys': 'aws:*' } },
      },
    );
    const tag = (keys: string[]) =>
      evaluate([tagging], request('sqs:TagQueue', QUEUE, { 'aws:TagKeys': keys })).effect;
    expect(tag(['team'])).toBe('allow');
    expect(tag(['team', 'owner'])).toBe('implicit-deny');
    expect(tag(['team', 'aws:createdBy'])).toBe('deny');
  });

  describe('a statement with an operator this evaluator does not know fails closed', () => {
    const unknown = { BinaryEquals: { 'x:key': 'QmluYXJ5' } };
    const admin = policy('Admin', { Effect: 'Allow', Action: '*', Resource: '*' });

    it('an Allow grants nothing', () => {
      const binary = policy('Binary', {
        Effect: 'Allow',
        Action: 'sqs:SendMessage',
        Resource: QUEUE,
        Condition: unknown,
      });
      expect(evaluate([binary], request('sqs:SendMessage', QUEUE)).effect).toBe('implicit-deny');
    });

    it('a Deny denies, unless a known condition in it fails', () => {
      const binary = policy('Binary', {
        Sid: 'Unknown',
        Effect: 'Deny',
        Action: 'sqs:SendMessage',
        Resource: QUEUE,
        Condition: { ...unknown, Bool: { 'aws:SecureTransport': 'false' } },
      });
      const send = (secure: string) =>
        evaluate(
          [admin, binary],
          request('sqs:SendMessage', QUEUE, { 'aws:SecureTransport': secure }),
        );
      expect(send('false')).toEqual({
        effect: 'deny',
        deniedBy: { policy: 'Binary', index: 0, sid: 'Unknown' },
      });
      expect(send('true').effect).toBe('allow');
    });

    it('only for the calls the statement covers', () => {
      const binary = policy('Binary', {
        Effect: 'Deny',
        Action: 'sqs:SendMessage',
        Resource: QUEUE,
        Condition: unknown,
      });
      expect(evaluate([admin, binary], request('sqs:ReceiveMessage', QUEUE)).effect).toBe('allow');
    });
  });
});
