import type { CfnTemplate } from 'cdk-local-cloud';
import { estimate, loadModels, loadPrices } from '../../bench/cost/model';
import {
  analyseScenario,
  type ConsumerLogs,
  type CustomerWrites,
  doneTimes,
  orderCheck,
  throughput,
  versionsByCustomer,
} from '../../bench/ordering/analysis';
import { compareOrderings, lineDifferences } from '../../bench/ordering/cost';
import { notMeasured, render, summaryRows } from '../../bench/ordering/report';
import type { OrderingResult, ScenarioRun } from '../../bench/ordering/result';
import type { ActionCalls, LoadRun, PipelineResult } from '../../bench/pipeline';
import type { LogEntry } from '../../bench/pipeline/logs';
import { readTemplate } from '../../bench/pipeline/template';
import { measure } from '../../bench/stats';
import { synthPipeline } from '../synth';

const at = (ms: number) => new Date(ms).toISOString();
const archived = (customerId: string, version: number, ms: number): LogEntry => ({
  message: 'archive updated',
  customerId,
  version,
  timestamp: at(ms),
});
const unchanged = (customerId: string, version: number, ms: number): LogEntry => ({
  message: 'archive unchanged',
  customerId,
  version,
  timestamp: at(ms),
});
const marketed = (customerId: string, version: number, ms: number): LogEntry => ({
  message: 'consent change handled',
  customerId,
  version,
  outcome: 'granted',
  timestamp: at(ms),
});
const welcome = (customerId: string, ms: number): LogEntry => ({
  message: 'welcome sent',
  customerId,
  timestamp: at(ms),
});

describe('a perCustomer template, as the cost model reads it', () => {
  const mappingsOf = (ordering: string) =>
    readTemplate(synthPipeline('dev', { context: { ordering } }).template.toJSON() as CfnTemplate)
      .mappings;

  test('the consumer queues are FIFO, drained in batches of up to 10 without a window; the uploads queue and the stream are as in standard', () => {
    const fifo = mappingsOf('perCustomer');
    const consumers = fifo.filter((m) => m.fifo === true).map((m) => m.queue);
    expect(consumers.sort()).toEqual(['archive', 'avatar', 'marketing', 'welcome']);
    for (const m of fifo.filter((x) => x.fifo === true)) {
      expect({ queue: m.queue, batchSize: m.batchSize, windowSeconds: m.windowSeconds }).toEqual({
        queue: m.queue,
        batchSize: 10,
        windowSeconds: 0,
      });
    }
    expect(fifo.find((m) => m.queue === 'avatar-uploads')).toEqual({
      fn: 'avatar',
      source: 'sqs',
      queue: 'avatar-uploads',
      batchSize: 1,
      windowSeconds: 1,
    });
    expect(mappingsOf('standard').some((m) => m.fifo !== undefined)).toBe(false);
  });
});

describe('the order each consumer met a customer’s events in', () => {
  test('reads each customer’s versions in the order logged, from the matching lines only', () => {
    const versions = versionsByCustomer(
      [
        archived('a', 1, 0),
        { message: 'record failed; SQS will redeliver it', customerId: 'a', version: 9 },
        unchanged('a', 3, 1),
        archived('a', 2, 2),
        archived('b', 1, 3),
      ],
      (e) => e.message === 'archive updated' || e.message === 'archive unchanged',
    );
    expect(versions).toEqual(
      new Map([
        ['a', [1, 3, 2]],
        ['b', [1]],
      ]),
    );
  });

  test('counts a customer out of order when a version comes after a newer one; a redelivery of the same version is not', () => {
    expect(
      orderCheck(
        new Map([
          ['in order', [1, 2, 3]],
          ['redelivered', [1, 2, 2, 3]],
          ['one late', [1, 3, 2, 4]],
          ['two late', [3, 1, 2]],
        ]),
      ),
    ).toEqual({ customersOutOfOrder: 2, lateEvents: 3 });
    expect(orderCheck(new Map())).toEqual({ customersOutOfOrder: 0, lateEvents: 0 });
  });
});

describe('the scenario’s figures', () => {
  const customers: CustomerWrites[] = [
    {
      id: 'a',
      writes: [
        { version: 1, answeredAt: 1000 },
        { version: 2, answeredAt: 1100 },
        { version: 3, answeredAt: 1200 },
      ],
    },
    {
      id: 'b',
      writes: [
        { version: 1, answeredAt: 1000 },
        { version: 2, answeredAt: 1300 },
        { version: 3, answeredAt: 1400 },
      ],
    },
  ];
  const logs: ConsumerLogs = {
    // b's versions 3 then 2: the archive skipped 2, late.
    archive: [
      archived('a', 1, 1500),
      archived('b', 1, 1600),
      archived('a', 2, 1700),
      archived('a', 3, 1800),
      archived('b', 3, 1900),
      unchanged('b', 2, 2000),
    ],
    marketing: [
      marketed('a', 1, 1500),
      marketed('b', 1, 1500),
      marketed('a', 2, 1600),
      marketed('b', 2, 1700),
      marketed('a', 3, 1800),
      marketed('b', 3, 3000),
    ],
    welcome: [welcome('a', 1200), welcome('b', 1300)],
  };

  test('a customer is done when the archive wrote its last version, marketing handled it and the welcome was sent', () => {
    expect(doneTimes(customers, logs)).toEqual(
      new Map([
        ['a', 1800],
        ['b', 3000],
      ]),
    );
    expect(doneTimes(customers, { ...logs, welcome: [welcome('a', 1200)] })).toEqual(
      new Map([['a', 1800]]),
    );
    // A version found written is not the archive's write of it.
    expect(doneTimes(customers, { ...logs, archive: [unchanged('a', 3, 1800)] }).size).toBe(0);
  });

  test('events per second: every accepted write over first request to last done', () => {
    expect(throughput(550, 0, 50_000)).toEqual({ seconds: 50, eventsPerSecond: 11 });
  });

  test('throughput, each update’s latency to the archive, the order checks', () => {
    const run = analyseScenario({
      customers: 2,
      updatesPerCustomer: 2,
      startedAt: 0,
      written: customers,
      failedRequests: 0,
      logs,
      deadLetters: 0,
    });
    expect(run).toMatchObject({
      created: 2,
      events: 6,
      completed: 2,
      seconds: 3,
      eventsPerSecond: 2,
      archive: { customersOutOfOrder: 1, lateEvents: 1 },
      marketing: { customersOutOfOrder: 0, lateEvents: 0 },
      ok: true,
      problems: [],
    });
    // a2 600, a3 600, b2 700 (found written), b3 500: the updates only, not the creations
    expect(run.updateToArchive).toEqual(measure([600, 600, 700, 500], 'ms'));
  });

  test('a customer not done, a write not accepted, a dead letter: no throughput, each a problem', () => {
    const run = analyseScenario({
      customers: 3,
      updatesPerCustomer: 2,
      startedAt: 0,
      written: customers,
      failedRequests: 4,
      logs: { ...logs, welcome: [welcome('a', 1200)] },
      deadLetters: 1,
    });
    expect(run.seconds).toBeNull();
    expect(run.eventsPerSecond).toBeNull();
    expect(run.ok).toBe(false);
    expect(run.problems).toEqual([
      '1 customer(s) not created',
      '4 write(s) not accepted',
      '1 customer(s) not done by every consumer in time',
      '1 message(s) in dead-letter queues',
    ]);
  });

  test('the order checks count only the scenario’s customers', () => {
    const run = analyseScenario({
      customers: 2,
      updatesPerCustomer: 2,
      startedAt: 0,
      written: customers,
      failedRequests: 0,
      logs: {
        ...logs,
        archive: [...logs.archive, archived('earlier', 2, 0), unchanged('earlier', 1, 1)],
      },
      deadLetters: 0,
    });
    expect(run.archive).toEqual({ customersOutOfOrder: 1, lateEvents: 1 });
  });
});

// Calls per action, as the pipeline section counts them: just enough for every workload.
const action = (name: ActionCalls['action'], fn = 'api'): ActionCalls => ({
  action: name,
  rows: [
    { fn, service: 'dynamodb', operation: 'TransactWriteItems', min: 1, max: 1, median: 1 },
    {
      fn: 'stream-publisher',
      service: 'sns',
      operation: 'PublishBatch',
      min: 1,
      max: 1,
      median: 1,
    },
    { fn: 'archive', service: 's3', operation: 'PutObject', min: 1, max: 1, median: 1 },
  ],
  total: { min: 3, max: 3, median: 3 },
  floorTotal: 3,
  deliveries: [
    { queue: 'archive', messages: { min: 1, max: 1, median: 1 } },
    ...(name === 'avatar'
      ? [{ queue: 'avatar-uploads', messages: { min: 1, max: 1, median: 1 } }]
      : []),
  ],
  spansMs: [{ fn: 'archive', span: measure([10], 'ms') }],
  logBytes: [],
});
const fn = (name: string) => ({
  name,
  logicalId: name,
  memoryMB: 256,
  architecture: 'arm64',
  timeoutSeconds: 30,
});
const pipeline: PipelineResult = {
  timeScale: 0.02,
  functions: ['api', 'avatar-upload', 'avatar', 'stream-publisher', 'archive'].map(fn),
  mappings: [
    { fn: 'stream-publisher', source: 'stream', batchSize: 100, windowSeconds: 1 },
    { fn: 'archive', source: 'sqs', queue: 'archive', batchSize: 10, windowSeconds: 1 },
    { fn: 'avatar', source: 'sqs', queue: 'avatar-uploads', batchSize: 1, windowSeconds: 1 },
  ],
  calls: {
    cycles: 1,
    identical: true,
    actions: [
      action('create'),
      action('avatar', 'avatar-upload'),
      action('update'),
      action('delete'),
    ],
    comparison: [],
  },
  load: {
    customersPerRun: 20,
    latencyRate: 2,
    runs: [],
    sustainedPerSecond: 2,
    sustainedIsLowerBound: true,
  },
  durationSeconds: 1,
};
const perCustomerTemplate = {
  functions: pipeline.functions,
  mappings: pipeline.mappings.map((m) =>
    m.queue === 'archive' ? { ...m, fifo: true as const, windowSeconds: 0 } : m,
  ),
};
const prices = loadPrices();

describe('the cost of each ordering', () => {
  const cost = compareOrderings(pipeline, perCustomerTemplate, prices);

  test('every workload at both loads, the standard bill the cost section’s own', () => {
    expect(cost.comparisons.map((c) => `${c.workload}, ${c.load}`)).toEqual([
      'create, steady 20/s',
      'create, one at a time',
      'avatar, steady 20/s',
      'avatar, one at a time',
      'lifecycle, steady 20/s',
      'lifecycle, one at a time',
    ]);
    for (const c of cost.comparisons) expect(c.ratio).toBeCloseTo(c.perCustomerUsd / c.standardUsd);
    const steady = loadModels(20)[0];
    if (steady === undefined) throw new Error('no steady load');
    expect(cost.bills[0]).toEqual({
      ordering: 'standard',
      bill: estimate(pipeline, prices, 'ours', 'create', steady),
    });
    expect(cost.bills[1]?.ordering).toBe('perCustomer');
    expect(cost.bills[1]?.bill.lines.map((l) => l.item)).toContain(
      'SNS FIFO deliveries to SQS FIFO',
    );
  });

  test('at steady load perCustomer costs more: batches of one, at FIFO prices; one at a time only the prices differ', () => {
    const [steady, alone] = cost.comparisons;
    expect(steady?.ratio).toBeGreaterThan(1);
    expect(alone?.ratio).toBeGreaterThan(1);
    expect(steady?.ratio).toBeGreaterThan(alone?.ratio ?? Number.POSITIVE_INFINITY);
  });

  test('names where two bills differ, largest first, an item only one has counted against nothing', () => {
    const [standard, perCustomer] = cost.bills;
    if (standard === undefined || perCustomer === undefined) throw new Error('no bills');
    const differences = lineDifferences(standard.bill, perCustomer.bill);
    const usdOf = (item: string) => differences.find((d) => d.item === item)?.usd;
    // archive: a receive and a delete per message at $0.50/M, against per batch of 10 at $0.40/M
    expect(usdOf('SQS FIFO requests (Lambda pollers)')).toBeCloseTo(1);
    expect(usdOf('SQS requests (Lambda pollers)')).toBeCloseTo(-0.08);
    expect(differences.map((d) => Math.abs(d.usd))).toEqual(
      [...differences.map((d) => Math.abs(d.usd))].sort((a, b) => b - a),
    );
    expect(usdOf('API Gateway HTTP API requests')).toBeUndefined();
  });
});

const scenario = (outOfOrder: number): ScenarioRun => ({
  customers: 10,
  updatesPerCustomer: 10,
  created: 10,
  events: 110,
  failedRequests: 0,
  completed: 10,
  seconds: 11,
  eventsPerSecond: 10,
  updateToArchive: measure([300, 400, 500], 'ms'),
  archive: { customersOutOfOrder: outOfOrder, lateEvents: 2 * outOfOrder },
  marketing: { customersOutOfOrder: 0, lateEvents: 0 },
  deadLetters: 0,
  ok: true,
  problems: [],
});
const loadRun = (median: number): LoadRun => ({
  offeredPerSecond: 2,
  customers: 20,
  created: 20,
  completed: 20,
  welcomedOnce: 20,
  archivedOnce: 20,
  contactsPresent: 20,
  deadLetters: 0,
  failedDeliveries: 0,
  achievedPerSecond: 2,
  trend: null,
  ok: true,
  problems: [],
  publishBatchesPerCustomer: 1,
  dynamodbWritesPerSecond: 8,
  latency: {
    pipeline: measure([median, median * 2], 'ms'),
    total: measure([median], 'ms'),
    api: measure([20], 'ms'),
    welcome: measure([median], 'ms'),
    archive: measure([median], 'ms'),
    marketing: measure([median], 'ms'),
  },
});
const measuredMode = (mode: 'standard' | 'perCustomer', median: number, outOfOrder: number) => ({
  mode,
  skipped: false as const,
  template: mode === 'standard' ? pipeline : perCustomerTemplate,
  latency: { skipped: false as const, ...loadRun(median) },
  scenario: { skipped: false as const, ...scenario(outOfOrder) },
});
const result: OrderingResult = {
  timeScale: 0.02,
  latency: { perSecond: 2, customers: 20 },
  scenario: { customers: 10, updatesPerCustomer: 10 },
  modes: [measuredMode('standard', 200, 3), measuredMode('perCustomer', 300, 0)],
  cost: { skipped: false, ...compareOrderings(pipeline, perCustomerTemplate, prices) },
  durationSeconds: 60,
};

describe('rendering', () => {
  test('one table comparing the two orderings, what the numbers say, the limits and the assumptions', () => {
    const markdown = render(result);
    expect(markdown).toMatch(/^## Ordering: standard against perCustomer/);
    expect(markdown).toContain('| | standard | perCustomer | perCustomer ÷ standard |');
    expect(markdown).toContain(
      '| Pipeline latency p50 / p95, 20 customers at 2/s (POST answered → every consumer done) | 300 ms / 390 ms, ok | 450 ms / 585 ms, ok | 1.50× (p50) |',
    );
    expect(markdown).toContain(
      '| Scenario: events through the pipeline (accepted writes ÷ that time) | 10.0 events/s | 10.0 events/s | 1.00× |',
    );
    expect(markdown).toContain(
      '| Scenario: customers the archive met out of version order (events late) | 3 of 10 (6 late) | 0 of 10 (0 late) | – |',
    );
    expect(markdown).toMatch(
      /\| Cost per million, created once, steady 20\/s \| \$\d+\.\d\d \| \$\d+\.\d\d \| \d\.\d\d× \|/,
    );
    expect(markdown).toContain('as a message group per customer promises');
    expect(markdown).toMatch(
      /Cost: a million lifecycles at steady 20\/s cost .*SQS FIFO requests \(Lambda pollers\) \+\$/,
    );
    expect(markdown).toContain('300 messages/s');
    expect(markdown).toContain('70,000 transactions per second');
    expect(markdown).toContain('batch is one record at any rate');
    expect(markdown).not.toContain('Not measured');
  });

  test('a mode whose cloud failed is reported as not measured, with its reason; the other still shows', () => {
    const failed: OrderingResult = {
      ...result,
      modes: [
        measuredMode('standard', 200, 3),
        { mode: 'perCustomer', skipped: true, reason: 'its local cloud failed: boom' },
      ],
      cost: { skipped: true, reason: 'no perCustomer template: its local cloud did not start' },
    };
    expect(notMeasured(failed)).toEqual([
      'perCustomer: its local cloud failed: boom',
      'cost: no perCustomer template: its local cloud did not start',
    ]);
    const markdown = render(failed);
    expect(markdown).toContain('Not measured: perCustomer: its local cloud failed: boom;');
    expect(markdown).toContain('| 300 ms / 390 ms, ok | – | – (p50) |');
    expect(markdown).not.toContain('Cost per million');
    expect(summaryRows(failed).map((r) => r.value)).toEqual([
      '10.0/s vs – (–)',
      '300 ms / 390 ms vs –',
      '3 of 10 vs –',
      '–',
    ]);
  });

  test('summary rows: scenario events/s, latency and lifecycle cost in each ordering; none out of order in perCustomer is the one goal', () => {
    const rows = summaryRows(result);
    expect(rows.map((r) => r.metric)).toEqual([
      'Ordering scenario (10 customers × (create + 10 updates), all at once), events/s: standard vs perCustomer (local emulator; not AWS)',
      'Pipeline latency p50 / p95 at 2/s: standard vs perCustomer (local emulator; not AWS)',
      'Customers the archive met out of version order in the ordering scenario: standard vs perCustomer',
      'Cost per million customer lifecycles, steady 20/s: standard vs perCustomer (us-east-1 list prices, estimated)',
    ]);
    expect(rows[0]?.value).toBe('10.0/s vs 10.0/s (1.00×)');
    expect(rows[1]?.value).toBe('300 ms / 390 ms vs 450 ms / 585 ms');
    expect(rows[2]).toMatchObject({ value: '3 of 10 vs 0 of 10', met: true });
    expect(rows[3]?.value).toMatch(/^\$\d+\.\d\d vs \$\d+\.\d\d \(\d\.\d\d×\)$/);
    expect(rows.filter((r) => r.met !== null)).toHaveLength(1);
    const broken = summaryRows({
      ...result,
      modes: [measuredMode('standard', 200, 3), measuredMode('perCustomer', 300, 1)],
    });
    expect(broken[2]?.met).toBe(false);
    expect(
      render({
        ...result,
        modes: [measuredMode('standard', 200, 3), measuredMode('perCustomer', 300, 1)],
      }),
    ).toContain('a message group per customer should allow none');
  });
});
