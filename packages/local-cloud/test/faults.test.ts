import {
  type CallShape,
  describeFault,
  errorFor,
  FAULT_KINDS,
  FaultInjector,
  type FaultKind,
  kindsFor,
  mulberry32,
  spell,
} from '../src/faults';

const call = (service: string, operation: string): CallShape => ({
  service,
  operation,
  protocol:
    service === 's3'
      ? 'rest-xml'
      : service === 'sns'
        ? 'query'
        : service === 'unknown'
          ? 'rest-xml'
          : 'json',
});

/** The kinds (or nothing: `-`) an injector's rules give `count` calls in a row. */
const run = (injector: FaultInjector, shape: CallShape, count: number): string[] =>
  Array.from({ length: count }, () => injector.take(shape)?.kind ?? '-');

describe('the seeded random stream', () => {
  test('gives the same numbers for the same seed, in [0, 1)', () => {
    const first = Array.from({ length: 5 }, mulberry32(42));
    expect(Array.from({ length: 5 }, mulberry32(42))).toEqual(first);
    expect(Array.from({ length: 5 }, mulberry32(43))).not.toEqual(first);
    for (const value of Array.from({ length: 1000 }, mulberry32(7))) {
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThan(1);
    }
  });
});

describe('which calls a rule hits', () => {
  test('replays the same faults for the same seed and function, whatever else runs', () => {
    const rule = { kind: 'any', rate: 0.3 } as const;
    const first = new FaultInjector('welcome', 1234);
    const replay = new FaultInjector('welcome', 1234);
    const otherFunction = new FaultInjector('archive', 1234);
    for (const injector of [first, replay, otherFunction]) injector.add(rule);
    const shape = call('dynamodb', 'TransactWriteItems');

    const faults = run(first, shape, 50);
    expect(run(replay, shape, 50)).toEqual(faults);
    expect(run(otherFunction, shape, 50)).not.toEqual(faults);
  });

  test('a rule’s own seed overrides the function’s', () => {
    const a = new FaultInjector('welcome', 1);
    const b = new FaultInjector('welcome', 2);
    a.add({ kind: 'Throttling', rate: 0.5, seed: 9 });
    b.add({ kind: 'Throttling', rate: 0.5, seed: 9 });
    expect(run(a, call('sqs', 'SendMessage'), 40)).toEqual(run(b, call('sqs', 'SendMessage'), 40));
  });

  test('hits about rate of the calls', () => {
    const injector = new FaultInjector('welcome', 5);
    injector.add({ kind: 'InternalError', rate: 0.05 });
    const hits = run(injector, call('sqs', 'SendMessage'), 4000).filter((kind) => kind !== '-');
    expect(hits.length).toBeGreaterThan(4000 * 0.035);
    expect(hits.length).toBeLessThan(4000 * 0.065);
  });

  test('counts remaining down, with or without a rate', () => {
    const injector = new FaultInjector('welcome', 5);
    injector.add({ kind: 'Throttling', remaining: 2 });
    expect(run(injector, call('sns', 'Publish'), 4)).toEqual([
      'Throttling',
      'Throttling',
      '-',
      '-',
    ]);

    injector.add({ kind: 'Throttling', rate: 0.5, remaining: 3 });
    const hits = run(injector, call('sns', 'Publish'), 200).filter((kind) => kind !== '-');
    expect(hits).toHaveLength(3);
  });

  test('matches service and operation, and a call meets the first rule that fires', () => {
    const injector = new FaultInjector('welcome', 5);
    injector.add({ service: 'dynamodb', operation: 'PutItem', kind: 'Delay', delayMs: 10 });
    injector.add({ service: 'dynamodb', kind: 'InternalError' });

    expect(injector.take(call('dynamodb', 'PutItem'))).toEqual({ kind: 'Delay', delayMs: 10 });
    expect(injector.take(call('dynamodb', 'GetItem'))?.kind).toBe('InternalError');
    expect(injector.take(call('sqs', 'SendMessage'))).toBeUndefined();

    injector.clear();
    expect(injector.take(call('dynamodb', 'PutItem'))).toBeUndefined();
  });

  test('any: chooses only among the kinds that apply to the call, and all of them', () => {
    const seen = (shape: CallShape) => {
      const injector = new FaultInjector('welcome', 11);
      injector.add({ kind: 'any' });
      return new Set(run(injector, shape, 300));
    };
    expect(seen(call('dynamodb', 'TransactWriteItems'))).toEqual(new Set(FAULT_KINDS));
    expect(seen(call('sqs', 'SendMessage'))).toEqual(
      new Set(FAULT_KINDS.filter((kind) => kind !== 'TransactionConflict')),
    );
    // No error shape is known for a service it cannot name: only resets and delays.
    expect(seen(call('unknown', 'Unknown'))).toEqual(
      new Set(['ResetBefore', 'ResetAfter', 'Delay']),
    );
  });

  test('a TransactionConflict rule passes by the calls no transaction can conflict with', () => {
    const injector = new FaultInjector('welcome', 5);
    injector.add({ kind: 'TransactionConflict' });
    expect(injector.take(call('dynamodb', 'GetItem'))).toBeUndefined();
    expect(injector.take(call('dynamodb', 'Query'))).toBeUndefined();
    expect(injector.take(call('sqs', 'SendMessage'))).toBeUndefined();
    expect(injector.take(call('dynamodb', 'UpdateItem'))?.kind).toBe('TransactionConflict');
    expect(kindsFor(call('dynamodb', 'TransactGetItems'))).toContain('TransactionConflict');
  });

  test('ignores a rule with nothing remaining', () => {
    const injector = new FaultInjector('welcome', 5);
    injector.add({ kind: 'Throttling', remaining: 0 });
    expect(injector.take(call('sns', 'Publish'))).toBeUndefined();
  });
});

describe('the wire', () => {
  const wire = (kind: FaultKind, shape: CallShape, body?: unknown) => {
    const error = errorFor(
      kind,
      shape,
      body === undefined ? undefined : Buffer.from(JSON.stringify(body)),
    );
    if (error === undefined) throw new Error(`${kind} is no error`);
    const spelled = spell(error, shape);
    return { ...spelled, json: shape.protocol === 'json' ? JSON.parse(spelled.body) : undefined };
  };

  test('a cancelled transaction names TransactionConflict for its first item and None for the others', () => {
    const { status, json, headers } = wire(
      'TransactionConflict',
      call('dynamodb', 'TransactWriteItems'),
      {
        TransactItems: [{ Put: {} }, { Update: {} }, { ConditionCheck: {} }],
      },
    );
    expect(status).toBe(400);
    expect(headers['content-type']).toBe('application/x-amz-json-1.0');
    expect(json).toEqual({
      __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
      Message: expect.stringMatching(
        /^Transaction cancelled, please refer cancellation reasons for specific reasons \[TransactionConflict, None, None\]/,
      ),
      CancellationReasons: [
        { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' },
        { Code: 'None' },
        { Code: 'None' },
      ],
    });
  });

  test('a DynamoDB single-item write conflicts with TransactionConflictException', () => {
    expect(wire('TransactionConflict', call('dynamodb', 'PutItem')).json).toMatchObject({
      __type: 'com.amazonaws.dynamodb.v20120810#TransactionConflictException',
    });
  });

  test('query protocol: an XML ErrorResponse, Sender for 4xx and Receiver for 5xx', () => {
    const throttled = wire('Throttling', call('sns', 'Publish'));
    expect(throttled.status).toBe(400);
    expect(throttled.body).toMatch(
      /^<ErrorResponse><Error><Type>Sender<\/Type><Code>ThrottlingException<\/Code><Message>[^<]+<\/Message><\/Error><RequestId>[-0-9a-f]+<\/RequestId><\/ErrorResponse>$/,
    );
    expect(wire('InternalError', call('sns', 'Publish')).body).toContain(
      '<Type>Receiver</Type><Code>InternalError</Code>',
    );
  });

  test('S3: an XML Error, SlowDown 503 and InternalError 500', () => {
    const slowDown = wire('Throttling', call('s3', 'PutObject'));
    expect(slowDown.status).toBe(503);
    expect(slowDown.headers['content-type']).toBe('application/xml');
    expect(slowDown.body).toMatch(
      /<Error><Code>SlowDown<\/Code><Message>Please reduce your request rate\./,
    );
    const internal = wire('InternalError', call('s3', 'GetObject'));
    expect([internal.status, internal.body]).toEqual([
      500,
      expect.stringContaining('<Code>InternalError</Code>'),
    ]);
  });

  test('describes each fault in one phrase for the output', () => {
    const put = { ...call('dynamodb', 'PutItem'), status: 200 };
    expect(describeFault('Throttling', put)).toBe(
      'Throttling: ProvisionedThroughputExceededException 400',
    );
    expect(describeFault('ResetBefore', { ...put, status: 0 })).toBe(
      'ResetBefore: connection reset, not forwarded',
    );
    expect(describeFault('ResetAfter', put)).toBe('ResetAfter: applied (200), answer lost');
    expect(describeFault('Delay', put)).toBe('Delay (200)');
  });
});
