import {
  type EventPattern,
  matchesAnyPattern,
  matchesPattern,
  parseFilterCriteria,
  snsFilterPolicyMatches,
  UnsupportedPattern,
} from '../src/event-filter';

// ---- the stack's filters, as in cdk.out/CustomerPipeline-dev.template.json ----------------

const STREAM_PUBLISHER_FILTER_CRITERIA = {
  Filters: [{ Pattern: '{"dynamodb":{"Keys":{"sk":{"S":["PROFILE"]}}}}' }],
};
const WELCOME_POLICY = { MessageType: ['CustomerCreated'] };
const ARCHIVE_POLICY = { MessageType: ['CustomerCreated', 'CustomerUpdated', 'CustomerDeleted'] };
const MARKETING_POLICY = { marketingConsent: ['granted', 'revoked'] };

const CUSTOMER_ID = '0b9f6c1e-3f7a-4c2d-9e8b-000000000001';

/** A stream record as moto's GetRecords returns it: no eventSourceARN, a date-string timestamp. */
const streamRecord = (pk: string, sk: string, eventName = 'INSERT') => ({
  eventID: 'eda567b63b7244a9b1018de5d145e24c',
  eventName,
  eventVersion: '1.0',
  eventSource: 'aws:dynamodb',
  awsRegion: 'us-east-1',
  dynamodb: {
    ApproximateCreationDateTime: '2026-11-22T00:34:50.889Z',
    Keys: { pk: { S: pk }, sk: { S: sk } },
    NewImage: { pk: { S: pk }, sk: { S: sk } },
    SequenceNumber: '1100000000017454423009',
    SizeBytes: 210,
    StreamViewType: 'NEW_AND_OLD_IMAGES',
  },
});

const event = (type: string, marketingConsent: string) => ({
  body: JSON.stringify({
    eventId: 'eda567b63b7244a9b1018de5d145e24c',
    type,
    occurredAt: '2026-11-22T00:34:50.889Z',
    version: 1,
    customer: { id: CUSTOMER_ID, marketingOptIn: marketingConsent === 'granted' },
    marketingConsent,
  }),
  attributes: { MessageType: { DataType: 'String', StringValue: type } },
});

// ---- Lambda FilterCriteria ----------------------------------------------------------------

describe('the stream publisher filter', () => {
  const patterns = parseFilterCriteria(STREAM_PUBLISHER_FILTER_CRITERIA);

  it('passes profile changes', () => {
    expect(matchesAnyPattern(streamRecord(`CUSTOMER#${CUSTOMER_ID}`, 'PROFILE'), patterns)).toBe(
      true,
    );
    expect(
      matchesAnyPattern(streamRecord(`CUSTOMER#${CUSTOMER_ID}`, 'PROFILE', 'REMOVE'), patterns),
    ).toBe(true);
  });

  it('filters out the consumers’ own items and the email claims', () => {
    for (const [pk, sk] of [
      [`CUSTOMER#${CUSTOMER_ID}`, 'NOTIFICATION#WELCOME'],
      [`CUSTOMER#${CUSTOMER_ID}`, 'MARKETING#CONSENT'],
      ['EMAIL#ada@example.com', 'EMAIL'],
    ] as const) {
      expect(matchesAnyPattern(streamRecord(pk, sk), patterns)).toBe(false);
    }
  });
});

describe('parseFilterCriteria', () => {
  it('reads no patterns from absent criteria, and then lets every record through', () => {
    expect(parseFilterCriteria(undefined)).toEqual([]);
    expect(parseFilterCriteria({})).toEqual([]);
    expect(matchesAnyPattern({ anything: 1 }, [])).toBe(true);
  });

  it('ORs several filters', () => {
    const patterns = parseFilterCriteria({
      Filters: [{ Pattern: '{"eventName":["INSERT"]}' }, { Pattern: '{"eventName":["REMOVE"]}' }],
    });
    expect(matchesAnyPattern({ eventName: 'INSERT' }, patterns)).toBe(true);
    expect(matchesAnyPattern({ eventName: 'REMOVE' }, patterns)).toBe(true);
    expect(matchesAnyPattern({ eventName: 'MODIFY' }, patterns)).toBe(false);
  });

  it('refuses a pattern that is not a JSON object', () => {
    expect(() => parseFilterCriteria({ Filters: [{ Pattern: '["PROFILE"]' }] })).toThrow(
      UnsupportedPattern,
    );
  });

  it('refuses an unknown operator when parsing, not only when a record reaches it', () => {
    expect(() =>
      parseFilterCriteria({ Filters: [{ Pattern: '{"body":{"name":[{"wildcard":"a*"}]}}' }] }),
    ).toThrow('unsupported operator "wildcard"');
  });

  it('refuses a leaf that is not a list', () => {
    expect(() => parseFilterCriteria({ Filters: [{ Pattern: '{"eventName":"INSERT"}' }] })).toThrow(
      '"eventName" must be a list of conditions or a nested pattern',
    );
  });
});

describe('pattern operators', () => {
  const record = {
    name: 'Ada Lovelace',
    email: 'Ada@Example.com',
    count: 5,
    optIn: true,
    deleted: null,
    tags: ['vip', 'beta'],
    nested: { state: 'active' },
  };
  const matches = (pattern: EventPattern) => matchesPattern(record, pattern);

  it('matches literal strings, numbers, booleans and null exactly', () => {
    expect(matches({ name: ['Ada Lovelace'] })).toBe(true);
    expect(matches({ name: ['ada lovelace'] })).toBe(false);
    expect(matches({ count: [5] })).toBe(true);
    expect(matches({ count: ['5'] })).toBe(false);
    expect(matches({ optIn: [true] })).toBe(true);
    expect(matches({ deleted: [null] })).toBe(true);
    expect(matches({ name: [null] })).toBe(false);
  });

  it('ORs the conditions of a list and ANDs the keys', () => {
    expect(matches({ name: ['Grace', 'Ada Lovelace'] })).toBe(true);
    expect(matches({ name: ['Ada Lovelace'], count: [6] })).toBe(false);
  });

  it('matches an array field when any element matches', () => {
    expect(matches({ tags: ['beta'] })).toBe(true);
    expect(matches({ tags: ['alpha'] })).toBe(false);
  });

  it('matches prefix and suffix, optionally ignoring case', () => {
    expect(matches({ name: [{ prefix: 'Ada' }] })).toBe(true);
    expect(matches({ name: [{ prefix: 'ada' }] })).toBe(false);
    expect(matches({ name: [{ prefix: { 'equals-ignore-case': 'ada' } }] })).toBe(true);
    expect(matches({ email: [{ suffix: '@Example.com' }] })).toBe(true);
    expect(matches({ email: [{ suffix: { 'equals-ignore-case': '@EXAMPLE.COM' } }] })).toBe(true);
    expect(matches({ count: [{ prefix: '5' }] })).toBe(false);
  });

  it('matches equals-ignore-case', () => {
    expect(matches({ email: [{ 'equals-ignore-case': 'ada@example.com' }] })).toBe(true);
    expect(matches({ email: [{ 'equals-ignore-case': 'bob@example.com' }] })).toBe(false);
  });

  it('matches anything-but a literal, a list, a prefix, a suffix or ignoring case', () => {
    expect(matches({ name: [{ 'anything-but': 'Grace' }] })).toBe(true);
    expect(matches({ name: [{ 'anything-but': ['Grace', 'Ada Lovelace'] }] })).toBe(false);
    expect(matches({ count: [{ 'anything-but': [1, 2] }] })).toBe(true);
    expect(matches({ name: [{ 'anything-but': { prefix: 'Ada' } }] })).toBe(false);
    expect(matches({ name: [{ 'anything-but': { suffix: 'Hopper' } }] })).toBe(true);
    expect(
      matches({ email: [{ 'anything-but': { 'equals-ignore-case': 'ADA@example.com' } }] }),
    ).toBe(false);
  });

  it('never matches anything-but on a missing field', () => {
    expect(matches({ missing: [{ 'anything-but': 'x' }] })).toBe(false);
  });

  it('compares numbers with numeric, over one bound or a range', () => {
    expect(matches({ count: [{ numeric: ['>', 4] }] })).toBe(true);
    expect(matches({ count: [{ numeric: ['>=', 0, '<', 5] }] })).toBe(false);
    expect(matches({ count: [{ numeric: ['=', 5] }] })).toBe(true);
    expect(matches({ name: [{ numeric: ['>', 0] }] })).toBe(false);
  });

  it('tests presence with exists, on leaves only', () => {
    expect(matches({ email: [{ exists: true }] })).toBe(true);
    expect(matches({ phone: [{ exists: true }] })).toBe(false);
    expect(matches({ phone: [{ exists: false }] })).toBe(true);
    expect(matches({ email: [{ exists: false }] })).toBe(false);
    // EventBridge reads a record as leaves: an object is not a value that exists.
    expect(matches({ nested: [{ exists: true }] })).toBe(false);
    expect(matches({ missing: { deeper: [{ exists: false }] } })).toBe(true);
  });

  it('matches nested patterns', () => {
    expect(matches({ nested: { state: ['active'] } })).toBe(true);
    expect(matches({ nested: { state: ['inactive'] } })).toBe(false);
    expect(matches({ name: { first: ['Ada'] } })).toBe(false);
  });

  it('matches $or at any level', () => {
    expect(matches({ $or: [{ name: ['Grace'] }, { count: [5] }] })).toBe(true);
    expect(matches({ $or: [{ name: ['Grace'] }, { count: [6] }] })).toBe(false);
    expect(matches({ nested: { $or: [{ state: ['active'] }, { other: ['x'] }] } })).toBe(true);
    expect(matches({ optIn: [true], $or: [{ name: ['Grace'] }, { count: [6] }] })).toBe(false);
  });

  it('throws on a malformed operator', () => {
    expect(() => matches({ count: [{ numeric: ['~', 4] }] })).toThrow(UnsupportedPattern);
    expect(() => matches({ count: [{ numeric: ['>'] }] })).toThrow(UnsupportedPattern);
    expect(() => matches({ name: [{ exists: 'yes' }] })).toThrow(UnsupportedPattern);
    expect(() => matches({ name: [{ prefix: 'A', suffix: 'e' }] })).toThrow(UnsupportedPattern);
    expect(() => matches({ name: [] })).toThrow('"name" has an empty list');
  });

  it('throws on a bad operator even when an earlier condition already matched', () => {
    expect(() => matches({ name: ['Ada Lovelace', { cidr: '10.0.0.0/8' }] })).toThrow(
      'unsupported operator "cidr"',
    );
  });
});

describe('SQS bodies', () => {
  const sqsRecord = (body: string) => ({
    messageId: '059f36b4-87a3-44ab-83d2-661975830a7d',
    body,
    attributes: { ApproximateReceiveCount: '1' },
    messageAttributes: {},
    eventSource: 'aws:sqs',
  });

  it('matches a JSON body against a nested body pattern', () => {
    const pattern = { body: { marketingConsent: ['granted'], customer: { id: [CUSTOMER_ID] } } };
    expect(matchesPattern(sqsRecord(event('CustomerCreated', 'granted').body), pattern)).toBe(true);
    expect(matchesPattern(sqsRecord(event('CustomerCreated', 'none').body), pattern)).toBe(false);
  });

  it('matches a plain-string body only against body literal patterns', () => {
    expect(matchesPattern(sqsRecord('hello world'), { body: [{ prefix: 'hello' }] })).toBe(true);
    expect(
      matchesPattern(sqsRecord('hello world'), { body: { greeting: [{ exists: false }] } }),
    ).toBe(false);
  });

  it('never matches a JSON body against a body literal pattern', () => {
    expect(matchesPattern(sqsRecord('{"a":1}'), { body: ['{"a":1}'] })).toBe(false);
  });
});

// ---- SNS filter policies ------------------------------------------------------------------

describe('the consumers’ SNS filter policies', () => {
  const consumers = [
    { name: 'welcome', policy: WELCOME_POLICY, scope: 'MessageAttributes' },
    { name: 'archive', policy: ARCHIVE_POLICY, scope: 'MessageAttributes' },
    { name: 'marketing', policy: MARKETING_POLICY, scope: 'MessageBody' },
  ] as const;
  const receivers = (type: string, consent: string) =>
    consumers
      .filter(({ policy, scope }) => snsFilterPolicyMatches(policy, scope, event(type, consent)))
      .map(({ name }) => name);

  it.each([
    ['CustomerCreated', 'granted', ['welcome', 'archive', 'marketing']],
    ['CustomerCreated', 'none', ['welcome', 'archive']],
    ['CustomerUpdated', 'granted', ['archive', 'marketing']],
    ['CustomerUpdated', 'revoked', ['archive', 'marketing']],
    ['CustomerUpdated', 'none', ['archive']],
    ['CustomerDeleted', 'revoked', ['archive', 'marketing']],
    ['CustomerDeleted', 'none', ['archive']],
  ])('delivers %s with marketingConsent %s to %j', (type, consent, expected) => {
    expect(receivers(type, consent)).toEqual(expected);
  });

  it('delivers nothing to the attribute-filtered consumers when MessageType is missing', () => {
    const message = { ...event('CustomerCreated', 'granted'), attributes: {} };
    expect(snsFilterPolicyMatches(WELCOME_POLICY, 'MessageAttributes', message)).toBe(false);
    expect(snsFilterPolicyMatches(ARCHIVE_POLICY, 'MessageAttributes', message)).toBe(false);
  });

  it('delivers nothing to a body-filtered consumer when the body is not JSON', () => {
    const message = { body: 'granted', attributes: {} };
    expect(snsFilterPolicyMatches(MARKETING_POLICY, 'MessageBody', message)).toBe(false);
  });
});

describe('SNS filter policy operators', () => {
  const message = {
    body: JSON.stringify({ customer: { country: 'NZ', age: 36 }, tags: ['vip'] }),
    attributes: {
      MessageType: { DataType: 'String', StringValue: 'CustomerCreated' },
      store: { DataType: 'String', StringValue: 'example_corp' },
      price: { DataType: 'Number', StringValue: '210.75' },
      channels: { DataType: 'String.Array', StringValue: '["email","sms"]' },
      avatar: { DataType: 'Binary' },
    },
  };
  const attributes = (policy: Record<string, unknown>) =>
    snsFilterPolicyMatches(policy, 'MessageAttributes', message);
  const body = (policy: Record<string, unknown>) =>
    snsFilterPolicyMatches(policy, 'MessageBody', message);

  it('matches String, Number and String.Array attributes', () => {
    expect(attributes({ store: ['example_corp'] })).toBe(true);
    expect(attributes({ price: [210.75] })).toBe(true);
    expect(attributes({ price: ['210.75'] })).toBe(false);
    expect(attributes({ channels: ['sms'] })).toBe(true);
    expect(attributes({ channels: ['push'] })).toBe(false);
  });

  it('never matches a Binary attribute', () => {
    expect(attributes({ avatar: [{ exists: true }] })).toBe(false);
  });

  it('supports prefix, suffix, equals-ignore-case, anything-but, numeric and exists', () => {
    expect(attributes({ store: [{ prefix: 'example' }] })).toBe(true);
    expect(attributes({ store: [{ suffix: '_corp' }] })).toBe(true);
    expect(attributes({ MessageType: [{ 'equals-ignore-case': 'customercreated' }] })).toBe(true);
    expect(attributes({ store: [{ 'anything-but': ['example_corp'] }] })).toBe(false);
    expect(attributes({ store: [{ 'anything-but': { prefix: 'other' } }] })).toBe(true);
    expect(attributes({ price: [{ numeric: ['>', 100, '<=', 300] }] })).toBe(true);
    expect(attributes({ price: [{ numeric: ['<', 100] }] })).toBe(false);
    expect(attributes({ coupon: [{ exists: false }] })).toBe(true);
    expect(attributes({ store: [{ exists: false }] })).toBe(false);
  });

  it('ANDs keys and ORs $or alternatives', () => {
    expect(attributes({ store: ['example_corp'], MessageType: ['CustomerDeleted'] })).toBe(false);
    expect(attributes({ $or: [{ MessageType: ['CustomerDeleted'] }, { price: [210.75] }] })).toBe(
      true,
    );
  });

  it('matches nested keys in the body scope', () => {
    expect(body({ customer: { country: ['NZ'], age: [{ numeric: ['>=', 18] }] } })).toBe(true);
    expect(body({ customer: { country: ['AU'] } })).toBe(false);
    expect(body({ tags: ['vip'] })).toBe(true);
    expect(body({ $or: [{ tags: ['x'] }, { customer: { country: ['NZ'] } }] })).toBe(true);
  });

  it('refuses nested keys in the attribute scope', () => {
    expect(() => attributes({ customer: { country: ['NZ'] } })).toThrow(
      'nested keys need FilterPolicyScope MessageBody',
    );
  });

  it('throws on an unknown operator instead of guessing', () => {
    expect(() => attributes({ store: [{ cidr: '10.0.0.0/24' }] })).toThrow(UnsupportedPattern);
    expect(() => body({ customer: { country: [{ wildcard: 'N*' }] } })).toThrow(UnsupportedPattern);
  });
});
