import {
  AVATAR_UPLOAD_SHARE,
  batchSize,
  computeCost,
  dynamodbUnits,
  estimate,
  invocationsOf,
  type LoadModel,
  loadPrices,
  type Prices,
  s3Class,
} from '../../bench/cost/model';
import { biggestItems, render, summaryRows } from '../../bench/cost/report';
import type { ActionCalls, CallRange, PipelineResult } from '../../bench/pipeline';
import type { MappingConfig } from '../../bench/pipeline/template';
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
      { queue: 'welcome', messages: one },
      { queue: 'archive', messages: one },
      { queue: 'marketing', messages: one },
    ],
    spansMs: spans({ api: 20, 'stream-publisher': 10, welcome: 30, archive: 15, marketing: 25 }),
    logBytes: [
      { fn: 'welcome', bytes: 200 },
      { fn: 'archive', bytes: 300 },
      { fn: 'marketing', bytes: 300 },
    ],
  },
  {
    action: 'avatar',
    rows: [
      row('avatar-upload', 'dynamodb', 'GetItem'),
      row('avatar-upload', 's3', 'PostObject'),
      row('avatar', 'dynamodb', 'GetItem'),
      row('avatar', 's3', 'GetObject', 2),
      row('avatar', 's3', 'PutObject'),
      row('avatar', 'dynamodb', 'UpdateItem'),
      row('avatar', 's3', 'DeleteObject'),
      row('stream-publisher', 'sns', 'PublishBatch'),
      row('archive', 's3', 'HeadObject'),
      row('archive', 's3', 'PutObject'),
      row('marketing', 'dynamodb', 'BatchGetItem'),
      row('marketing', 's3', 'PutObject'),
      row('marketing', 'dynamodb', 'PutItem'),
    ],
    total: { min: 14, max: 14, median: 14 },
    floorTotal: 14,
    deliveries: [
      { queue: 'archive', messages: one },
      { queue: 'marketing', messages: one },
      { queue: 'avatar-uploads', messages: one },
    ],
    spansMs: spans({
      'avatar-upload': 10,
      avatar: 150,
      'stream-publisher': 10,
      archive: 15,
      marketing: 25,
    }),
    logBytes: [{ fn: 'avatar', bytes: 500 }],
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
      { queue: 'archive', messages: one },
      { queue: 'marketing', messages: one },
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
      row('avatar', 's3', 'ListObjectVersions', 2),
      row('avatar', 's3', 'DeleteObjects'),
    ],
    total: { min: 8, max: 8, median: 8 },
    floorTotal: 8,
    deliveries: [
      { queue: 'archive', messages: one },
      { queue: 'avatar', messages: one },
    ],
    spansMs: spans({ api: 20, 'stream-publisher': 10, archive: 15, avatar: 20 }),
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
    {
      name: 'avatar-upload',
      logicalId: 'AvatarUpload',
      memoryMB: 512,
      architecture: 'arm64',
      timeoutSeconds: 10,
    },
    {
      name: 'avatar',
      logicalId: 'Avatar',
      memoryMB: 1024,
      architecture: 'arm64',
      timeoutSeconds: 30,
    },
  ],
  mappings: [
    { fn: 'stream-publisher', source: 'stream', batchSize: 100, windowSeconds: 1 },
    ...['welcome', 'archive', 'marketing', 'avatar'].map((fn) => ({
      fn,
      source: 'sqs' as const,
      queue: fn,
      batchSize: 10,
      windowSeconds: 1,
    })),
    { fn: 'avatar', source: 'sqs', queue: 'avatar-uploads', batchSize: 1, windowSeconds: 1 },
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
    const mapping = (queue: string) =>
      pipeline.mappings.find((m) => (m.queue ?? m.fn) === queue) as MappingConfig;
    const publisher = pipeline.mappings.find((m) => m.source === 'stream') as MappingConfig;
    expect(batchSize(publisher, 'ours', steady)).toBe(20);
    expect(batchSize(mapping('archive'), 'ours', steady)).toBe(10);
    expect(batchSize(mapping('archive'), 'default', steady)).toBe(1);
    expect(batchSize(publisher, 'default', steady)).toBe(20);
    expect(batchSize(mapping('archive'), 'ours', alone)).toBe(1);
    // One upload per invocation, whatever the load.
    expect(batchSize(mapping('avatar-uploads'), 'ours', steady)).toBe(1);
  });

  test('each action invokes the function behind its API route and each queue it fills', () => {
    const of = (action: string) =>
      invocationsOf(
        pipeline,
        actions.find((a) => a.action === action) as ActionCalls,
        'ours',
        steady,
      ).map((i) => `${i.fn} ${i.source} ${i.records}/${i.batch}`);
    expect(of('avatar')).toEqual([
      'avatar-upload api 1/1',
      'stream-publisher stream 1/20',
      'archive sqs 1/10',
      'marketing sqs 1/10',
      'avatar sqs 1/1',
    ]);
    expect(of('delete')).toEqual([
      'api api 1/1',
      'stream-publisher stream 1/20',
      'archive sqs 1/10',
      'avatar sqs 1/10',
    ]);
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

  test('a lifecycle adds the avatar uploads of some customers, the update’s and the deletion’s calls', () => {
    const bill = estimate(pipeline, prices, 'ours', 'lifecycle', steady);
    const share = AVATAR_UPLOAD_SHARE;
    // create, update and delete through the api; the upload form for the uploaders
    expect(quantityOf(bill, 'API Gateway')).toBeCloseTo(3_000_000 + share * 1_000_000);
    // create 10, avatar 2 (the record, marketing's grant), update api 2 + marketing 4, delete api 8
    expect(quantityOf(bill, 'DynamoDB write')).toBeCloseTo((24 + share * 2) * 1_000_000);
    // create 2, avatar 4 (the POST, the JPEG, the archive, the contact), update 3, delete 1 + the
    // erase's two LISTs for everyone and its DeleteObjects for the uploaders only
    expect(quantityOf(bill, 'S3 PUT')).toBeCloseTo((2 + share * 4 + 3 + 3 + share) * 1_000_000);
  });

  test('a million avatar uploads: the form, the POST, the function at 1024 MB, the update it causes', () => {
    const bill = estimate(pipeline, prices, 'ours', 'avatar', steady);
    expect(quantityOf(bill, 'API Gateway')).toBe(1_000_000);
    // avatar-upload 1 + avatar 1 (batches of one) + stream-publisher 1/20 + archive and marketing 1/10
    expect(quantityOf(bill, 'Lambda requests')).toBeCloseTo(2_250_000);
    // the uploads queue: a receive and a delete per upload; archive and marketing per batch of 10
    expect(quantityOf(bill, 'SQS requests')).toBeCloseTo(2_400_000);
    // PostObject (PUT-class), the JPEG, the archive's version, the contact
    expect(quantityOf(bill, 'S3 PUT')).toBe(4_000_000);
    // the head and the whole upload, the archive's HEAD
    expect(quantityOf(bill, 'S3 GET')).toBe(3_000_000);
    expect(quantityOf(bill, 'S3 DELETE')).toBe(1_000_000);
    // the two GetItems, and marketing's consent record and profile
    expect(quantityOf(bill, 'DynamoDB read')).toBe(4_000_000);
    expect(quantityOf(bill, 'DynamoDB write')).toBe(2_000_000);
    // avatar 1 GB × 152 ms, avatar-upload 0.5 GB × 12 ms, the publisher and two consumers batched
    const gbs = 1 * 0.152 + 0.5 * 0.012 + 0.05 * 0.25 * 0.022 + 0.1 * 0.25 * (0.152 + 0.252);
    expect(quantityOf(bill, 'Lambda duration')).toBeCloseTo(gbs * 1_000_000, 3);
    expect(quantityOf(bill, 'Secrets Manager')).toBe(0);
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

  test('compares both designs for every workload at both loads', () => {
    expect(result.bills).toHaveLength(12);
    expect(result.comparisons.map((c) => [c.workload, c.load])).toEqual([
      ['create', 'steady 20/s'],
      ['create', 'one at a time'],
      ['avatar', 'steady 20/s'],
      ['avatar', 'one at a time'],
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
    expect(markdown).toContain('| an avatar uploaded (per million uploads) | steady 20/s |');
    expect(markdown).toContain(
      '| create + avatar upload (30% of customers) + update + delete | steady 20/s |',
    );
    expect(markdown).toMatch(/A million avatar uploads cost \$\d+\.\d\d, most of it S3 PUT/);
    expect(markdown).toContain('30% of customers upload one avatar');
    expect(markdown).toContain('recalled');
    expect(markdown).toContain('Not counted: X-Ray');
  });

  test('summary rows: ours against the default choices, created once, per avatar upload and over a lifecycle', () => {
    const rows = summaryRows(result);
    expect(rows.map((r) => r.metric)).toEqual([
      'Cost per million customers created, steady 20/s (us-east-1 list prices, estimated)',
      'Cost per million avatar uploads (the form, the POST to S3, the resize, the update it causes), steady 20/s (us-east-1 list prices, estimated)',
      'Cost per million customer lifecycles (create, 30% upload an avatar, update, delete), steady 20/s (us-east-1 list prices, estimated)',
    ]);
    expect(rows.every((r) => r.met === true)).toBe(true);
    expect(rows[0]?.value).toMatch(/^\$\d+\.\d\d \(default choices \$\d+\.\d\d, 0\.\d\d×\)$/);
  });
});

describe('the bill in perCustomer ordering (a FIFO topic and FIFO consumer queues)', () => {
  // As a perCustomer template has them (the ordering test reads one): the consumer queues FIFO,
  // drained without a batching window; the avatar uploads queue standard, as S3 needs it.
  const fifoPipeline: PipelineResult = {
    ...pipeline,
    mappings: pipeline.mappings.map((m) =>
      m.source === 'sqs' && m.queue !== 'avatar-uploads'
        ? { ...m, fifo: true as const, windowSeconds: 0 }
        : m,
    ),
  };
  const fifoMapping = (queue: string) =>
    fifoPipeline.mappings.find((m) => m.queue === queue) as MappingConfig;
  const lineOf = (bill: ReturnType<typeof estimate>, item: string) =>
    bill.lines.find((l) => l.item === item);

  test('prices.json holds SNS FIFO’s and SQS FIFO’s prices beside the standard ones', () => {
    expect(prices.sns.fifo).toMatchObject({
      publishRequestsPerMillion: 0.3,
      publishPayloadPerGB: 0.017,
      sqsDeliveriesPerMillion: 0.01,
      deliveryPayloadPerGB: 0.001,
    });
    expect(prices.sqs.fifoRequestsPerMillion).toBe(0.5);
    expect(prices.sns.publishRequestsPerMillion).toBe(0.5);
    expect(prices.sqs.standardRequestsPerMillion).toBe(0.4);
  });

  test('a FIFO consumer without a batching window gets batches of one at any rate', () => {
    expect(batchSize(fifoMapping('archive'), 'ours', steady)).toBe(1);
    expect(batchSize(fifoMapping('archive'), 'ours', { ...steady, perSecond: 1000 })).toBe(1);
    // The publisher's stream keeps its window.
    const publisher = fifoPipeline.mappings.find((m) => m.source === 'stream') as MappingConfig;
    expect(batchSize(publisher, 'ours', steady)).toBe(20);
  });

  test('a creation: SNS FIFO publish requests and payload, a priced delivery per queued message, SQS FIFO requests at $0.50 per million', () => {
    const bill = estimate(fifoPipeline, prices, 'ours', 'create', steady, 'perCustomer');
    // two PublishBatch calls per invocation of 20 records, as on a standard topic
    expect(lineOf(bill, 'SNS FIFO publish requests')?.quantity).toBeCloseTo(100_000);
    expect(lineOf(bill, 'SNS FIFO publish requests')?.usd).toBeCloseTo(0.1 * 0.3);
    // a million events of ~1 KB published
    const publishedGB = 1_000_000 / 1024 / 1024;
    expect(lineOf(bill, 'SNS FIFO payload published')?.quantity).toBeCloseTo(publishedGB);
    expect(lineOf(bill, 'SNS FIFO payload published')?.usd).toBeCloseTo(publishedGB * 0.017);
    // one subscription message per message in the welcome, archive and marketing queues
    expect(lineOf(bill, 'SNS FIFO deliveries to SQS FIFO')?.quantity).toBeCloseTo(3_000_000);
    expect(lineOf(bill, 'SNS FIFO deliveries to SQS FIFO')?.usd).toBeCloseTo(0.03);
    expect(lineOf(bill, 'SNS FIFO payload delivered')?.usd).toBeCloseTo(3 * publishedGB * 0.001);
    // a receive and a delete per message (batches of one), three queues
    expect(lineOf(bill, 'SQS FIFO requests (Lambda pollers)')?.quantity).toBeCloseTo(6_000_000);
    expect(lineOf(bill, 'SQS FIFO requests (Lambda pollers)')?.usd).toBeCloseTo(3);
    expect(lineOf(bill, 'SQS requests (Lambda pollers)')?.quantity).toBe(0);
    expect(lineOf(bill, 'SNS publish requests')).toBeUndefined();
    // api 1 + stream-publisher 1/20 + three consumers, an invocation per message
    expect(quantityOf(bill, 'Lambda requests')).toBeCloseTo(4_050_000);
    expect(bill.totalUsd).toBeCloseTo(
      bill.lines.reduce((sum, l) => sum + l.usd, 0),
      10,
    );
  });

  test('an avatar upload: the uploads queue stays standard, the update it causes goes through FIFO', () => {
    const bill = estimate(fifoPipeline, prices, 'ours', 'avatar', steady, 'perCustomer');
    expect(lineOf(bill, 'SQS requests (Lambda pollers)')?.quantity).toBeCloseTo(2_000_000);
    // archive and marketing, a receive and a delete per message
    expect(lineOf(bill, 'SQS FIFO requests (Lambda pollers)')?.quantity).toBeCloseTo(4_000_000);
    expect(lineOf(bill, 'SNS FIFO deliveries to SQS FIFO')?.quantity).toBeCloseTo(2_000_000);
  });

  test('a standard bill is unchanged: the same lines at standard prices, no delivery line', () => {
    const bill = estimate(pipeline, prices, 'ours', 'create', steady, 'standard');
    expect(bill).toEqual(estimate(pipeline, prices, 'ours', 'create', steady));
    expect(bill.lines.map((l) => l.item)).toEqual([
      'API Gateway HTTP API requests',
      'Lambda requests',
      'Lambda duration (arm64)',
      'SNS publish requests',
      'SNS payload filtering',
      'SQS requests (Lambda pollers)',
      'DynamoDB write request units',
      'DynamoDB read request units',
      'S3 PUT/COPY/POST/LIST requests',
      'S3 GET/HEAD requests',
      'S3 DELETE requests',
      'Secrets Manager API calls',
      'CloudWatch Logs ingestion',
    ]);
    expect(lineOf(bill, 'SQS requests (Lambda pollers)')?.usd).toBeCloseTo(0.6 * 0.4);
  });

  test('a bill refuses the other ordering’s mappings rather than price one design at the other’s batches', () => {
    expect(() => estimate(pipeline, prices, 'ours', 'create', steady, 'perCustomer')).toThrow(
      /perCustomer template's mappings/,
    );
    expect(() => estimate(fifoPipeline, prices, 'ours', 'create', steady, 'standard')).toThrow(
      /standard template's mappings/,
    );
  });
});
