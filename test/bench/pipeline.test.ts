import type { AwsCall, CfnTemplate } from 'cdk-local-cloud';
import {
  type CallRange,
  countCalls,
  madeByFunction,
  mergeCycles,
  ratePerSecond,
  spanMs,
} from '../../bench/pipeline/calls';
import { compareWithFloor, FLOOR } from '../../bench/pipeline/floor';
import { iamAfterLifecycle } from '../../bench/pipeline/iam';
import { latencyRateOf } from '../../bench/pipeline/load';
import { completionTimes, parseLogLines, structuredLogBytes } from '../../bench/pipeline/logs';
import { render, summaryRows } from '../../bench/pipeline/report';
import type { PipelineResult } from '../../bench/pipeline/result';
import { pipelineResources, readTemplate } from '../../bench/pipeline/template';
import { latencyTrend } from '../../bench/pipeline/trend';
import { measure } from '../../bench/stats';
import { RESOURCE_METADATA_KEY, resourcesWithRole } from '../../lib/resource-names';
import { synthPipeline } from '../synth';

const call = (
  caller: string,
  service: string,
  operation: string,
  startedAt = 0,
  durationMs = 1,
): AwsCall => ({ caller, service, operation, status: 200, startedAt, durationMs });

const range = (fn: string, service: string, operation: string, min: number, max = min) =>
  ({ fn, service, operation, min, max, median: min }) satisfies CallRange;

describe('counting calls', () => {
  test('groups calls by function name, service and operation', () => {
    const names: Record<string, string> = { ApiFn: 'api', ArchiveFn: 'archive' };
    const counts = countCalls(
      [
        call('ApiFn', 'dynamodb', 'TransactWriteItems'),
        call('ArchiveFn', 's3', 'HeadObject'),
        call('ArchiveFn', 's3', 'HeadObject'),
        call('Unknown1', 'sns', 'Publish'),
      ],
      (id) => names[id] ?? id,
    );
    expect(counts).toEqual([
      { fn: 'api', service: 'dynamodb', operation: 'TransactWriteItems', count: 1 },
      { fn: 'archive', service: 's3', operation: 'HeadObject', count: 2 },
      { fn: 'Unknown1', service: 'sns', operation: 'Publish', count: 1 },
    ]);
  });

  test('merges cycles into min, max and median, an operation missing from a cycle counting 0', () => {
    const secret = { fn: 'welcome', service: 'secretsmanager', operation: 'GetSecretValue' };
    const put = { fn: 'archive', service: 's3', operation: 'PutObject' };
    const merged = mergeCycles([
      [
        { ...secret, count: 1 },
        { ...put, count: 1 },
      ],
      [{ ...put, count: 1 }],
      [{ ...put, count: 1 }],
    ]);
    expect(merged).toEqual([
      { ...put, min: 1, max: 1, median: 1 },
      { ...secret, min: 0, max: 1, median: 0 },
    ]);
  });

  test('the span runs from the first call’s start to the last call’s end', () => {
    expect(
      spanMs([call('F', 's3', 'HeadObject', 100, 5), call('F', 's3', 'PutObject', 110, 20)]),
    ).toBe(30);
    expect(spanMs([])).toBeUndefined();
  });

  test('the browser’s upload through a presigned form counts as the signer’s call, not as part of its invocation', () => {
    expect(madeByFunction(call('AvatarUploadFn', 's3', 'PostObject'))).toBe(false);
    expect(madeByFunction(call('AvatarUploadFn', 'dynamodb', 'GetItem'))).toBe(true);
    expect(madeByFunction(call('AvatarFn', 's3', 'PutObject'))).toBe(true);
  });

  test('a rate of calls runs over their span', () => {
    const calls = [0, 250, 500, 750].map((at) => call('F', 'dynamodb', 'PutItem', at, 250));
    expect(ratePerSecond(calls)).toBe(4);
    expect(ratePerSecond([])).toBe(0);
  });
});

describe('the pipeline in its template, found by name', () => {
  let template: CfnTemplate;
  beforeAll(() => {
    template = synthPipeline('dev').template.toJSON() as CfnTemplate;
  });

  test('every named function, by its folder, and what invokes the stream publisher and each consumer', () => {
    const { functions, mappings } = readTemplate(template);
    expect(functions.map((f) => f.name)).toEqual([
      ...resourcesWithRole(template, 'function').keys(),
    ]);
    expect(functions.map((f) => f.name)).toContain('stream-publisher');
    expect(mappings.map((m) => `${m.fn} ${m.source} ${m.queue ?? '–'}`).sort()).toEqual([
      'archive sqs archive',
      // The avatar function reads two queues: the deletions (its own name) and S3's uploads.
      'avatar sqs avatar',
      'avatar sqs avatar-uploads',
      'marketing sqs marketing',
      'stream-publisher stream –',
      'welcome sqs welcome',
    ]);
    // One upload per invocation: a decoder that traps retires its environment.
    expect(mappings.find((m) => m.queue === 'avatar-uploads')?.batchSize).toBe(1);
  });

  test('the buckets it reads, the dead-letter queues it counts, a queue under its function’s name', () => {
    const found = pipelineResources(template, (logicalId) => `physical ${logicalId}`);
    expect(found.assetsBucket).toBe('physical AssetsBucket252B3DF7');
    expect(found.contactsBucket).toBe('physical MarketingContactsBucket1D5052B0');
    // Each consumer's own and its subscription's (avatar's deletions among them), and the uploads'.
    expect(found.deadLetterQueues).toHaveLength(9);
    expect(found.nameOf('AvatarsUploadsQueue2E1557C3')).toBe('avatar-uploads');
    expect(found.nameOf('WelcomeConsumerQueue2B8A1890')).toBe('welcome');
    expect(found.nameOf('StreamPublisherFunction7F7A637A')).toBe('stream-publisher');
    expect(found.nameOf('NotNamed')).toBe('NotNamed');
  });
});

describe('the floor', () => {
  test('a creation’s floor is the nine calls the handlers need', () => {
    const create = FLOOR.filter((f) => f.action === 'create');
    expect(create.reduce((sum, f) => sum + f.floor, 0)).toBe(9);
    expect(create.every((f) => f.why.length > 0)).toBe(true);
  });

  test('an avatar upload’s floor: the form, the POST, the function’s five steps (two reads of a large upload), and the update it causes', () => {
    const avatar = FLOOR.filter((f) => f.action === 'avatar');
    const by = (fn: string) =>
      avatar
        .filter((f) => f.fn === fn)
        .map((f) => `${f.service} ${f.operation} ${f.floor}`)
        .sort();
    expect(by('avatar-upload')).toEqual(['dynamodb GetItem 1', 's3 PostObject 1']);
    expect(by('avatar')).toEqual([
      'dynamodb GetItem 1',
      'dynamodb UpdateItem 1',
      's3 DeleteObject 1',
      's3 GetObject 2',
      's3 PutObject 1',
    ]);
    // The new version is a CustomerUpdated: published, archived, and the contact rewritten.
    expect(by('stream-publisher')).toEqual(['sns PublishBatch 1']);
    expect(by('archive')).toEqual(['s3 HeadObject 1', 's3 PutObject 1']);
    expect(by('marketing')).toEqual([
      'dynamodb BatchGetItem 1',
      'dynamodb PutItem 1',
      's3 PutObject 1',
    ]);
    expect(avatar.every((f) => f.why.length > 0)).toBe(true);
  });

  test('a deletion erases the avatars: a LIST per prefix, one DeleteObjects', () => {
    expect(
      FLOOR.filter((f) => f.action === 'delete' && f.fn === 'avatar').map(
        (f) => `${f.operation} ${f.floor}`,
      ),
    ).toEqual(['ListObjectVersions 2', 'DeleteObjects 1']);
  });

  test('flags the cold start’s secret read with its reason, and nothing at the floor', () => {
    const comparison = compareWithFloor('create', [
      range('api', 'dynamodb', 'TransactWriteItems', 1),
      range('welcome', 'secretsmanager', 'GetSecretValue', 0, 1),
    ]);
    const secret = comparison.find((c) => c.operation === 'GetSecretValue');
    expect(secret).toMatchObject({ over: true, floor: 0 });
    expect(secret?.reason).toMatch(/cold start/);
    expect(comparison.find((c) => c.fn === 'api')).toMatchObject({ over: false });
    // Floor operations that were not measured are listed with 0.
    expect(comparison.find((c) => c.operation === 'PutObject')?.measured.max).toBe(0);
  });

  test('flags an operation the design never makes, and a repeated one', () => {
    const comparison = compareWithFloor('update', [
      range('archive', 's3', 'GetObject', 1),
      range('archive', 's3', 'HeadObject', 2),
    ]);
    expect(comparison.find((c) => c.operation === 'GetObject')?.reason).toMatch(
      /not in the design/,
    );
    expect(comparison.find((c) => c.operation === 'HeadObject')?.reason).toMatch(/more than/);
  });
});

describe('reading what the pipeline did', () => {
  const log = [
    '(node:1) Warning: something',
    '{"level":"INFO","message":"archive updated","timestamp":"2026-01-01T00:00:01.500Z","customerId":"a","type":"CustomerCreated","action":"write"}',
    '{"level":"INFO","message":"archive updated","timestamp":"2026-01-01T00:00:01.200Z","customerId":"a","type":"CustomerCreated","action":"write"}',
    '{"level":"INFO","message":"archive updated","timestamp":"2026-01-01T00:00:02.000Z","customerId":"b","type":"CustomerUpdated","action":"write"}',
    '{broken',
    '',
  ].join('\n');

  test('keeps the handlers’ JSON lines only', () => {
    expect(parseLogLines(log)).toHaveLength(3);
    const braced = log.split('\n').filter((l) => l.startsWith('{'));
    expect(structuredLogBytes(log)).toBe(
      braced.reduce((sum, l) => sum + Buffer.byteLength(l) + 1, 0),
    );
  });

  test('a customer is done at its first matching line', () => {
    const times = completionTimes(parseLogLines(log), (e) => e.type === 'CustomerCreated');
    expect([...times]).toEqual([['a', Date.parse('2026-01-01T00:00:01.200Z')]]);
  });

  test('reads each named function’s memory, architecture and event sources from the template', () => {
    const named = (name: string, role = 'function') => ({
      [RESOURCE_METADATA_KEY]: { name, role },
    });
    const template: CfnTemplate = {
      Resources: {
        WelcomeFn: {
          Type: 'AWS::Lambda::Function',
          Properties: { MemorySize: 256, Architectures: ['arm64'], Timeout: 30 },
          Metadata: named('welcome'),
        },
        // CDK's own function, which the app does not name.
        AutoDelete: {
          Type: 'AWS::Lambda::Function',
          Properties: { MemorySize: 128 },
          Metadata: { 'aws:cdk:path': 'Stack/Custom::S3AutoDeleteObjects/Handler' },
        },
        PublisherFn: {
          Type: 'AWS::Lambda::Function',
          Properties: {},
          Metadata: named('stream-publisher'),
        },
        WelcomeQueue: { Type: 'AWS::SQS::Queue', Metadata: named('welcome', 'queue') },
        WelcomeMapping: {
          Type: 'AWS::Lambda::EventSourceMapping',
          Properties: {
            FunctionName: { Ref: 'WelcomeFn' },
            EventSourceArn: { 'Fn::GetAtt': ['WelcomeQueue', 'Arn'] },
            BatchSize: 10,
            MaximumBatchingWindowInSeconds: 1,
          },
        },
        PublisherMapping: {
          Type: 'AWS::Lambda::EventSourceMapping',
          Properties: {
            FunctionName: { Ref: 'PublisherFn' },
            EventSourceArn: { 'Fn::GetAtt': ['Table', 'StreamArn'] },
          },
        },
      },
    };
    expect(readTemplate(template)).toEqual({
      functions: [
        {
          name: 'welcome',
          logicalId: 'WelcomeFn',
          memoryMB: 256,
          architecture: 'arm64',
          timeoutSeconds: 30,
        },
        {
          name: 'stream-publisher',
          logicalId: 'PublisherFn',
          memoryMB: 128,
          architecture: 'x86_64',
          timeoutSeconds: 3,
        },
      ],
      mappings: [
        { fn: 'welcome', source: 'sqs', queue: 'welcome', batchSize: 10, windowSeconds: 1 },
        { fn: 'stream-publisher', source: 'stream', batchSize: 100, windowSeconds: 0 },
      ],
    });
  });

  test('latency that keeps growing over a run is not stable; noise around a steady level is', () => {
    const points = (latencies: number[]) =>
      latencies.map((latencyMs, i) => ({ sentAt: 1_000_000 + i * 100, latencyMs }));
    expect(latencyTrend(points([100, 110, 90, 105, 120, 95, 110, 100])).stable).toBe(true);
    // offered 10/s, done 5/s: each customer waits 100 ms more than the one sent 100 ms before it
    const behind = latencyTrend(points([100, 400, 700, 1000, 1300, 1600, 1900, 2200]));
    expect(behind).toMatchObject({ stable: false, first: 250, last: 2050 });
    expect(behind.growthMsPerSecond).toBeCloseTo(3000);
    // A backlog that builds slowly over a long run: 3.6 s more by its end.
    const slow = Array.from({ length: 200 }, (_, i) => ({
      sentAt: i * 500,
      latencyMs: 300 + i * 18,
    }));
    expect(latencyTrend(slow)).toMatchObject({ stable: false });
    expect(latencyTrend(slow).growthMsPerSecond).toBeCloseTo(36);
    // A steep but small rise over a short run is noise, not a backlog.
    expect(latencyTrend(points([100, 200, 300, 400, 500, 600, 700, 800])).stable).toBe(true);
  });
});

describe('rendering', () => {
  const latency = measure([900, 1000, 1100, 1500], 'ms');
  const result: PipelineResult = {
    timeScale: 0.02,
    functions: [],
    mappings: [],
    calls: {
      cycles: 2,
      identical: false,
      actions: [
        {
          action: 'create',
          rows: [range('welcome', 'secretsmanager', 'GetSecretValue', 0, 1)],
          total: { min: 10, max: 11, median: 10.5 },
          floorTotal: 10,
          deliveries: [{ queue: 'welcome', messages: { min: 1, max: 1, median: 1 } }],
          spansMs: [],
          logBytes: [],
        },
      ],
      comparison: compareWithFloor('create', [
        range('welcome', 'secretsmanager', 'GetSecretValue', 0, 1),
      ]),
    },
    load: {
      customersPerRun: 4,
      latencyRate: 20,
      runs: [
        {
          offeredPerSecond: 20,
          customers: 4,
          created: 4,
          completed: 4,
          welcomedOnce: 4,
          archivedOnce: 4,
          contactsPresent: 4,
          deadLetters: 0,
          achievedPerSecond: 3.5,
          trend: { first: 900, last: 1500, growthMsPerSecond: 12, stable: true },
          ok: true,
          problems: [],
          publishBatchesPerCustomer: 0.5,
          dynamodbWritesPerSecond: 14,
          failedDeliveries: 0,
          latency: {
            pipeline: latency,
            total: latency,
            api: latency,
            welcome: latency,
            archive: latency,
            marketing: latency,
          },
        },
        {
          offeredPerSecond: 40,
          customers: 4,
          created: 4,
          completed: 3,
          welcomedOnce: 3,
          archivedOnce: 4,
          contactsPresent: 4,
          deadLetters: 1,
          achievedPerSecond: 2,
          trend: null,
          ok: false,
          problems: ['1 message(s) in dead-letter queues'],
          publishBatchesPerCustomer: 0.25,
          dynamodbWritesPerSecond: 16,
          failedDeliveries: 3,
          latency: null,
        },
      ],
      sustainedPerSecond: 20,
      sustainedIsLowerBound: false,
    },
    durationSeconds: 60,
  };

  test('one section: the call table with the floor, the load table, the findings', () => {
    const markdown = render(result);
    expect(markdown).toMatch(/^## Pipeline/);
    expect(markdown).toContain(
      '| create | welcome | secretsmanager | GetSecretValue | 0–1 **▲** | 0 |',
    );
    expect(markdown).toContain('| 40/s | 4 | 3 | 3 | 4 | 1 | 3 | – |');
    expect(markdown).toContain('At 20/s (the highest rate sustained)');
    expect(markdown).toContain('Sustained: 20 customers/s');
    expect(markdown).toContain('Where it fell behind (40/s), it made 16 DynamoDB writes/s');
    expect(markdown).toContain('time scale 0.02');
  });

  test('the IAM report after the lifecycle: what the roles granted and no call used, and what was denied', () => {
    expect(render(result)).not.toContain('### IAM');
    const markdown = render({
      ...result,
      iam: {
        unused: [{ fn: 'welcome', action: 'sqs:GetQueueUrl', resources: ['arn:aws:sqs:q'] }],
        denied: [],
      },
    });
    expect(markdown).toContain('### IAM: granted, never used in the lifecycle');
    expect(markdown).toContain('nothing was denied');
    expect(markdown).toContain('| welcome | `sqs:GetQueueUrl` | `arn:aws:sqs:q` |');
    expect(
      iamAfterLifecycle([
        {
          function: 'archive',
          granted: [
            { action: 's3:PutObject', resources: ['arn:aws:s3:::b/*'], calls: 3 },
            { action: 's3:ListBucket', resources: ['arn:aws:s3:::b'], calls: 0 },
          ],
          denied: [{ action: 's3:GetObject', resource: 'arn:aws:s3:::b/k' }],
        },
      ]),
    ).toEqual({
      unused: [{ fn: 'archive', action: 's3:ListBucket', resources: ['arn:aws:s3:::b'] }],
      denied: [{ fn: 'archive', action: 's3:GetObject', resource: 'arn:aws:s3:::b/k' }],
    });
  });

  test('latency is reported at the highest rate sustained, else at the lowest tried', () => {
    const [passed, failed] = result.load.runs;
    if (passed === undefined || failed === undefined) throw new Error('fixture');
    expect(latencyRateOf([passed, failed])).toBe(20);
    expect(latencyRateOf([failed, { ...failed, offeredPerSecond: 80 }])).toBe(40);
    expect(latencyRateOf([])).toBe(0);
  });

  test('summary rows: calls against the floor, latency, sustained rate', () => {
    const rows = summaryRows(result);
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatchObject({ value: '10.5 (floor 10)', met: false });
    expect(rows[1]?.value).toBe(`${latency.median.toFixed(0)} ms / ${latency.p95.toFixed(0)} ms`);
    expect(rows[2]).toMatchObject({ value: '20/s', met: null });
  });
});
