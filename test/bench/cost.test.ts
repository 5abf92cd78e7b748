import {
  batchSize,
  computeCost,
  dynamodbUnits,
  estimate,
  type LoadModel,
  loadPrices,
  type Prices,
  s3Class,
} from '../../bench/cost/model';
import { biggestItems, render, summaryRows } from '../../bench/cost/report';
import type { ActionCalls, CallRange, PipelineResult } from '../../bench/pipeline';
import { measure } from '../../bench/stats';

const row = (fn: string, service: string, operation: string, count = 1): CallRange => ({
  fn,
  service,
  operation,
  min: count,
  max: count,
  median: count,
});
const one = { min: 1, max: 1, median: 1 };
const spans = (values: Record<string, number>) =>
  Object.entries(values).map(([fn, ms]) => ({ fn, span: measure([ms], 'ms') }));

const actions: ActionCalls[] = [
  {
    action: 'create',
    rows: [
      row('api', 'dynamodb', 'TransactWriteItems'),
      row('stream-publisher', 'sns', 'PublishBatch'),
      row('welcome', 'dynamodb', 'TransactWriteItems'),
      row('welcome', 'dynamodb', 'UpdateItem'),
      row('archive', 's3', 'HeadObject'),
      row('archive', 's3', 'PutObject'),
      row('marketing', 'dynamodb', 'BatchGetItem'),
      row('marketing', 's3', 'PutObject'),
      row('marketing', 'dynamodb', 'PutItem'),
    ],
    total: { min: 9, max: 9, median: 9 },
    floorTotal: 9,
    deliveries: [
      { fn: 'welcome', messages: one },
      { fn: 'archive', messages: one },
      { fn: 'marketing', messages: one },
    ],
    spansMs: spans({ api: 20, 'stream-publisher': 10, welcome: 30, archive: 15, marketing: 25 }),
    logBytes: [
      { fn: 'welcome', bytes: 200 },
      { fn: 'archive', bytes: 300 },
      { fn: 'marketing', bytes: 300 },
    ],
  },
  {
    action: 'update',
    rows: [
      row('api', 'dynamodb', 'GetItem'),
      row('api', 'dynamodb', 'TransactWriteItems'),
      row('stream-publisher', 'sns', 'PublishBatch'),
      row('archive', 's3', 'HeadObject'),
      row('archive', 's3', 'PutObject'),
      row('marketing', 'dynamodb', 'TransactWriteItems'),
      row('marketing', 's3', 'ListObjectVersions'),
      row('marketing', 's3', 'DeleteObjects'),
    ],
    total: { min: 8, max: 8, median: 8 },
    floorTotal: 8,
    deliveries: [
      { fn: 'archive', messages: one },
      { fn: 'marketing', messages: one },
    ],
    spansMs: spans({ api: 20, 'stream-publisher': 10, archive: 15, marketing: 25 }),
    logBytes: [],
  },
  {
    action: 'delete',
    rows: [
      row('api', 'dynamodb', 'GetItem'),
      row('api', 'dynamodb', 'TransactWriteItems'),
      row('stream-publisher', 'sns', 'PublishBatch'),
      row('archive', 's3', 'HeadObject'),
      row('archive', 's3', 'PutObject'),
    ],
    total: { min: 5, max: 5, median: 5 },
    floorTotal: 5,
    deliveries: [{ fn: 'archive', messages: one }],
    spansMs: spans({ api: 20, 'stream-publisher': 10, archive: 15 }),
    logBytes: [],
  },
];

const pipeline: PipelineResult = {
  timeScale: 0.02,
  functions: [
    { name: 'api', logicalId: 'Api', memoryMB: 512, architecture: 'arm64', timeoutSeconds: 10 },
    ...['stream-publisher', 'welcome', 'archive', 'marketing'].map((name) => ({
      name,
      logicalId: name,
      memoryMB: 256,
      architecture: 'arm64',
      timeoutSeconds: 30,
    })),
  ],
  mappings: [
    { fn: 'stream-publisher', source: 'stream', batchSize: 100, windowSeconds: 1 },
    ...['welcome', 'archive', 'marketing'].map((fn) => ({
      fn,
      source: 'sqs' as const,
      batchSize: 10,
      windowSeconds: 1,
    })),
  ],
  calls: { cycles: 1, identical: true, actions, comparison: [] },
  load: {
    customersPerRun: 200,
    latencyRate: 20,
    runs: [],
    sustainedPerSecond: 20,
    sustainedIsLowerBound: false,
  },
  durationSeconds: 1,
};

const prices: Prices = loadPrices();
const steady: LoadModel = { label: 'steady 20/s', perSecond: 20, batched: true };
const alone: LoadModel = { label: 'one at a time', perSecond: 1, batched: false };
const quantityOf = (bill: ReturnType<typeof estimate>, prefix: string) =>
  bill.lines.find((l) => l.item.startsWith(prefix))?.quantity;

describe('prices', () => {
  test('bench/cost/prices.json holds us-east-1 list prices with the date they were read and a source', () => {
    expect(prices.region).toBe('us-east-1');
    expect(prices.readOn).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(prices.source).toMatch(/recalled/);
    expect(prices.lambda.gbSecond.arm64).toBeLessThan(prices.lambda.gbSecond.x86_64);
    expect(prices.s3.deletePerThousand).toBe(0);
  });
});

describe('units per call', () => {
  test('transactional writes cost 2 WRU per item, by what each handler writes', () => {
    expect(dynamodbUnits('create', 'api', 'TransactWriteItems')).toEqual({ wru: 4, rru: 0 });
    expect(dynamodbUnits('update', 'api', 'TransactWriteItems')).toEqual({ wru: 2, rru: 0 });
    expect(dynamodbUnits('delete', 'api', 'TransactWriteItems')).toEqual({ wru: 8, rru: 0 });
    expect(dynamodbUnits('create', 'welcome', 'TransactWriteItems')).toEqual({ wru: 4, rru: 0 });
    expect(dynamodbUnits('create', 'marketing', 'BatchGetItem')).toEqual({ wru: 0, rru: 2 });
    expect(dynamodbUnits('update', 'marketing', 'TransactWriteItems')).toEqual({ wru: 4, rru: 0 });
    expect(dynamodbUnits('update', 'api', 'GetItem')).toEqual({ wru: 0, rru: 1 });
    expect(dynamodbUnits('create', 'welcome', 'UpdateItem')).toEqual({ wru: 1, rru: 0 });
  });

  test('S3 bills LIST with PUT, HEAD with GET, and DELETE not at all', () => {
    expect(s3Class('ListObjectVersions')).toBe('tier1');
    expect(s3Class('PutObject')).toBe('tier1');
    expect(s3Class('DeleteObjects')).toBe('tier1');
    expect(s3Class('HeadObject')).toBe('tier2');
    expect(s3Class('GetObject')).toBe('tier2');
    expect(s3Class('DeleteObject')).toBe('free');
  });

  test('batches fill to the rate times the window, up to the batch size; the default SQS batch is one', () => {
    expect(batchSize(pipeline, 'stream-publisher', 'ours', steady)).toBe(20);
    expect(batchSize(pipeline, 'archive', 'ours', steady)).toBe(10);
    expect(batchSize(pipeline, 'archive', 'default', steady)).toBe(1);
    expect(batchSize(pipeline, 'stream-publisher', 'default', steady)).toBe(20);
    expect(batchSize(pipeline, 'archive', 'ours', alone)).toBe(1);
    expect(batchSize(pipeline, 'api', 'ours', steady)).toBe(1);
  });
});

describe('the bill for a million customers created', () => {
  test('ours at steady load: batched invocations, PublishBatch and SQS batches of 10', () => {
    const bill = estimate(pipeline, prices, 'ours', 'create', steady);
    expect(quantityOf(bill, 'API Gateway')).toBe(1_000_000);
    // api 1 + stream-publisher 1/20 + three consumers 1/10 each
    expect(quantityOf(bill, 'Lambda requests')).toBeCloseTo(1_350_000);
    // two PublishBatch calls per invocation of 20 records
    expect(quantityOf(bill, 'SNS publish')).toBeCloseTo(100_000);
    // one ReceiveMessage + one DeleteMessageBatch per batch of 10, three queues
    expect(quantityOf(bill, 'SQS requests')).toBeCloseTo(600_000);
    expect(quantityOf(bill, 'DynamoDB write')).toBe(10_000_000);
    // marketing reads the consent record and the profile together
    expect(quantityOf(bill, 'DynamoDB read')).toBe(2_000_000);
    expect(quantityOf(bill, 'S3 PUT')).toBe(2_000_000);
    expect(quantityOf(bill, 'S3 GET')).toBe(1_000_000);
    // one read per welcome environment every 300 s: 50,000 s for a million at 20/s
    expect(quantityOf(bill, 'Secrets Manager')).toBeCloseTo(1_000_000 / 20 / 300);
    // api 0.5 GB × 22 ms; stream-publisher 0.05 × 0.25 GB × 22 ms; welcome, archive, marketing
    // 0.1 × 0.25 GB × (10 records × span + 2 ms)
    const gbs = 0.5 * 0.022 + 0.05 * 0.25 * 0.022 + 0.1 * 0.25 * (0.302 + 0.152 + 0.252);
    expect(quantityOf(bill, 'Lambda duration')).toBeCloseTo(gbs * 1_000_000, 3);
    const duration = bill.lines.find((l) => l.item.startsWith('Lambda duration'));
    expect(duration?.item).toBe('Lambda duration (arm64)');
    expect(duration?.usd).toBeCloseTo(gbs * 1_000_000 * prices.lambda.gbSecond.arm64, 6);
    expect(bill.totalUsd).toBeCloseTo(
      bill.lines.reduce((sum, l) => sum + l.usd, 0),
      10,
    );
  });

  test('the default choices: x86_64, a Publish per record, an invocation and two SQS requests per message', () => {
    const bill = estimate(pipeline, prices, 'default', 'create', steady);
    expect(quantityOf(bill, 'Lambda requests')).toBeCloseTo(4_050_000);
    expect(quantityOf(bill, 'SNS publish')).toBeCloseTo(1_000_000);
    expect(quantityOf(bill, 'SQS requests')).toBeCloseTo(6_000_000);
    expect(bill.lines.find((l) => l.item.startsWith('Lambda duration'))?.item).toBe(
      'Lambda duration (x86_64)',
    );
  });

  test('a lifecycle adds the update’s and the deletion’s calls', () => {
    const bill = estimate(pipeline, prices, 'ours', 'lifecycle', steady);
    expect(quantityOf(bill, 'API Gateway')).toBe(3_000_000);
    // create 10, update api 2 + marketing 4 (a transaction of two), delete api 8
    expect(quantityOf(bill, 'DynamoDB write')).toBe(24_000_000);
    // create 2, update 3 (a LIST and DeleteObjects among them), delete 1: the archive's tombstone
    expect(quantityOf(bill, 'S3 PUT')).toBe(6_000_000);
  });

  test('one at a time, batching saves nothing: only the architecture differs', () => {
    const ours = estimate(pipeline, prices, 'ours', 'create', alone);
    const defaults = estimate(pipeline, prices, 'default', 'create', alone);
    for (const item of ['Lambda requests', 'SNS publish', 'SQS requests']) {
      expect(quantityOf(ours, item)).toBeCloseTo(quantityOf(defaults, item) ?? -1);
    }
    expect(ours.totalUsd).toBeLessThan(defaults.totalUsd);
  });
});

describe('the cost section', () => {
  const result = computeCost(pipeline, prices);

  test('compares both designs for both workloads at both loads', () => {
    expect(result.bills).toHaveLength(8);
    expect(result.comparisons.map((c) => [c.workload, c.load])).toEqual([
      ['create', 'steady 20/s'],
      ['create', 'one at a time'],
      ['lifecycle', 'steady 20/s'],
      ['lifecycle', 'one at a time'],
    ]);
    for (const c of result.comparisons) expect(c.ratio).toBeCloseTo(c.oursUsd / c.defaultUsd);
  });

  test('names the biggest line items, largest first', () => {
    const bill = result.bills[0];
    if (bill === undefined) throw new Error('no bill');
    const [first, second] = biggestItems(bill, 2);
    expect(first?.item).toBe('S3 PUT/COPY/POST/LIST requests');
    expect(first?.usd).toBeGreaterThanOrEqual(second?.usd ?? Number.POSITIVE_INFINITY);
  });

  test('renders a heading, the line items side by side, the totals, the assumptions', () => {
    const markdown = render(result);
    expect(markdown).toMatch(/^## Cost per million customers/);
    expect(markdown).toContain('| S3 PUT/COPY/POST/LIST requests | 2,000,000 requests | $10.00 |');
    expect(markdown).toContain('| created once | steady 20/s |');
    expect(markdown).toContain('recalled');
    expect(markdown).toContain('Not counted: X-Ray');
  });

  test('summary rows: ours against the default choices, created once and over a lifecycle', () => {
    const rows = summaryRows(result);
    expect(rows).toHaveLength(2);
    expect(rows.every((r) => r.met === true)).toBe(true);
    expect(rows[0]?.value).toMatch(/^\$\d+\.\d\d \(default choices \$\d+\.\d\d, 0\.\d\d×\)$/);
  });
});
