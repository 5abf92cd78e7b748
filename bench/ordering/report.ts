import type { Ordering } from '../../lib/config';
import { loadModels } from '../cost/model';
import { dollars, WORKLOAD_LABELS } from '../cost/report';
import type { LoadRun } from '../pipeline';
import type { SummaryRow } from '../section';
import type { Measured } from '../stats';
import { lineDifferences } from './cost';
import type {
  CostComparison,
  ModeRun,
  OrderCheck,
  OrderingResult,
  ScenarioRun,
  Skipped,
} from './result';

// The ordering section written up: its part of bench/RESULTS.md and its summary rows.

/**
 * AWS's limits for the FIFO path, as published (recalled, not measured): what the emulator's
 * figures cannot say.
 */
export const AWS_FIFO_LIMITS =
  'In AWS the limits are not the emulator’s: an SNS FIFO topic takes 300 messages/s by default, or up to 30,000/s per account with FifoThroughputScope MessageGroup (high throughput, which this stack sets); ' +
  'an SQS FIFO queue in high-throughput mode takes up to 70,000 transactions per second per API action in us-east-1 (more messages with batching), and 300 per message group; ' +
  'Lambda’s event source for an SQS FIFO queue scales with the number of message groups, handing each group’s messages to one invocation at a time, in order. ' +
  'With a group per customer, a customer’s events wait only on that customer’s; a standard topic and queues have no such limits. (AWS’s published limits, recalled; not measured here.)';

const ms = (value: number): string => `${value.toFixed(0)} ms`;
const times = (ratio: number): string => `${ratio.toFixed(2)}×`;

type Measurement<T> = Skipped | ({ readonly skipped: false } & T);

const modeOf = (result: OrderingResult, mode: Ordering) =>
  result.modes.find((m) => m.mode === mode);

/** The mode's measurement `pick` takes, or undefined where the mode or it was not measured. */
const measured = <T>(
  result: OrderingResult,
  mode: Ordering,
  pick: (run: Extract<ModeRun, { skipped: false }>) => Measurement<T>,
): T | undefined => {
  const run = modeOf(result, mode);
  if (run === undefined || run.skipped) return undefined;
  const outcome = pick(run);
  return outcome.skipped ? undefined : outcome;
};

const latencyOf = (result: OrderingResult, mode: Ordering): LoadRun | undefined =>
  measured(result, mode, (run) => run.latency);
const scenarioOf = (result: OrderingResult, mode: Ordering): ScenarioRun | undefined =>
  measured(result, mode, (run) => run.scenario);

const p50p95 = (m: Measured | null | undefined): string =>
  m ? `${ms(m.median)} / ${ms(m.p95)}` : '–';

const ratioOf = (a: number | null | undefined, b: number | null | undefined): string =>
  a === null || a === undefined || b === null || b === undefined || a === 0 ? '–' : times(b / a);

const order = (check: OrderCheck, customers: number): string =>
  `${check.customersOutOfOrder} of ${customers} (${check.lateEvents} late)`;

/** Every measurement not made, and why. */
export const notMeasured = (result: OrderingResult): string[] => {
  const reasons: string[] = [];
  for (const run of result.modes) {
    if (run.skipped) {
      reasons.push(`${run.mode}: ${run.reason}`);
      continue;
    }
    if (run.latency.skipped) reasons.push(`${run.mode} latency: ${run.latency.reason}`);
    if (run.scenario.skipped) reasons.push(`${run.mode} scenario: ${run.scenario.reason}`);
  }
  if (result.cost.skipped) reasons.push(`cost: ${result.cost.reason}`);
  return reasons;
};

/** A million lifecycles at the steady load: the figure the summary and the findings quote. */
const steadyLifecycle = (result: OrderingResult): CostComparison | undefined => {
  if (result.cost.skipped) return undefined;
  const steady = loadModels(result.cost.steadyPerSecond)[0]?.label;
  return result.cost.comparisons.find((c) => c.workload === 'lifecycle' && c.load === steady);
};

/** What one ordering's run measured: its load run and its scenario, either possibly not measured. */
const measuredOf = (result: OrderingResult, mode: Ordering) => ({
  latency: latencyOf(result, mode),
  scenario: scenarioOf(result, mode),
});

const scenarioLabel = (result: OrderingResult): string =>
  `${result.scenario.customers} customers × (create + ${result.scenario.updatesPerCustomer} updates), all at once`;

export function render(result: OrderingResult): string {
  const { perSecond, customers } = result.latency;
  const standard = measuredOf(result, 'standard');
  const fifo = measuredOf(result, 'perCustomer');
  const latencyCell = (run: LoadRun | undefined) =>
    run === undefined
      ? '–'
      : `${p50p95(run.latency?.pipeline)}, ${run.ok ? 'ok' : run.problems.join('; ')}`;
  const scenarioCell = (run: ScenarioRun | undefined, cell: (s: ScenarioRun) => string) =>
    run === undefined ? '–' : cell(run);
  const seconds = (s: ScenarioRun) =>
    s.seconds === null ? `not done (${s.problems.join('; ')})` : `${s.seconds.toFixed(1)} s`;
  const rate = (s: ScenarioRun) =>
    s.eventsPerSecond === null ? '–' : `${s.eventsPerSecond.toFixed(1)} events/s`;
  const rows = [
    [
      `Pipeline latency p50 / p95, ${customers} customers at ${perSecond}/s (POST answered → every consumer done)`,
      latencyCell(standard.latency),
      latencyCell(fifo.latency),
      `${ratioOf(standard.latency?.latency?.pipeline.median, fifo.latency?.latency?.pipeline.median)} (p50)`,
    ],
    [
      `Scenario, ${scenarioLabel(result)}: first request → every consumer done`,
      scenarioCell(standard.scenario, seconds),
      scenarioCell(fifo.scenario, seconds),
      ratioOf(standard.scenario?.seconds, fifo.scenario?.seconds),
    ],
    [
      'Scenario: events through the pipeline (accepted writes ÷ that time)',
      scenarioCell(standard.scenario, rate),
      scenarioCell(fifo.scenario, rate),
      ratioOf(standard.scenario?.eventsPerSecond, fifo.scenario?.eventsPerSecond),
    ],
    [
      'Scenario: an update answered → the archive handled its version, p50 / p95',
      scenarioCell(standard.scenario, (s) => p50p95(s.updateToArchive)),
      scenarioCell(fifo.scenario, (s) => p50p95(s.updateToArchive)),
      `${ratioOf(standard.scenario?.updateToArchive?.median, fifo.scenario?.updateToArchive?.median)} (p50)`,
    ],
    [
      'Scenario: customers the archive met out of version order (events late)',
      scenarioCell(standard.scenario, (s) => order(s.archive, s.created)),
      scenarioCell(fifo.scenario, (s) => order(s.archive, s.created)),
      '–',
    ],
    [
      'Scenario: customers marketing met out of version order (events late)',
      scenarioCell(standard.scenario, (s) => order(s.marketing, s.created)),
      scenarioCell(fifo.scenario, (s) => order(s.marketing, s.created)),
      '–',
    ],
    ...(result.cost.skipped
      ? []
      : result.cost.comparisons.map((c) => [
          `Cost per million, ${WORKLOAD_LABELS[c.workload]}, ${c.load}`,
          dollars(c.standardUsd),
          dollars(c.perCustomerUsd),
          times(c.ratio),
        ])),
  ];
  const table = [
    '| | standard | perCustomer | perCustomer ÷ standard |',
    '|---|---|---|---|',
    ...rows.map((cells) => `| ${cells.join(' | ')} |`),
  ].join('\n');
  const skipped = notMeasured(result);
  return [
    '## Ordering: standard against perCustomer',
    '',
    '`ordering: perCustomer` (issue 15) makes the events topic SNS FIFO and every consumer queue SQS FIFO, each customer a message group, drained without a batching window; ' +
      '`standard` keeps a standard topic and queues and relies on the consumers’ version checks. ' +
      `Each ordering ran in this run on a fresh local cloud of its own (moto, time scale ${result.timeScale}, \`-c ordering=…\`): ` +
      `first a steady load as the pipeline section runs one, then the ordering scenario (the end-to-end ordering test's, ${scenarioLabel(result)}, each customer's writes one after another). ` +
      'The cost is the cost section’s model for both: the pipeline section’s counted calls, each ordering with its own template’s event sources, at us-east-1 list prices.',
    '',
    table,
    ...(skipped.length === 0 ? [] : ['', `Not measured: ${skipped.join('; ')}.`]),
    '',
    ...findings(result),
    '',
    AWS_FIFO_LIMITS,
    '',
    'Assumptions:',
    '',
    '- Times are the emulator’s on this machine (moto; at most 4 concurrent invocations per function; batching windows and visibility timeouts scaled), not AWS’s: compare the two orderings, not the figures with AWS.',
    '- Done means each consumer’s own log line: the archive wrote the last version (`archive updated`), marketing handled it (`consent change handled`), the welcome was sent (`welcome sent`). The order check reads every event each handled, in the order logged, a redelivery of the same version included (not out of order).',
    ...(result.cost.skipped ? [] : result.cost.assumptions.map((a) => `- ${a}`)),
    '- The standard bills are the cost section’s; its assumptions apply to both orderings.',
  ].join('\n');
}

/** What the numbers say, in sentences built from them; nothing where they were not measured. */
const findings = (result: OrderingResult): string[] => {
  const out: string[] = [];
  const standard = scenarioOf(result, 'standard');
  const fifo = scenarioOf(result, 'perCustomer');
  if (standard !== undefined && fifo !== undefined) {
    const archived = (s: ScenarioRun) =>
      `the archive met ${s.archive.customersOutOfOrder} of ${s.created} customers’ events out of version order (${s.archive.lateEvents} late) and marketing ${s.marketing.customersOutOfOrder} (${s.marketing.lateEvents} late)`;
    out.push(
      `Order: in standard, ${archived(standard)}; there, each consumer’s version check is what keeps a late event from overwriting a newer one. ` +
        `In perCustomer, ${archived(fifo)}${fifo.archive.customersOutOfOrder + fifo.marketing.customersOutOfOrder === 0 ? ', as a message group per customer promises' : ': a message group per customer should allow none (the end-to-end ordering test asserts none), so each is a defect to find, in the local cloud’s FIFO emulation or in the pipeline'}.`,
    );
    if (standard.seconds !== null && fifo.seconds !== null) {
      out.push(
        `Throughput: the scenario's ${fifo.events} events took ${fifo.seconds.toFixed(1)} s in perCustomer against ${standard.seconds.toFixed(1)} s in standard (${times(fifo.seconds / standard.seconds)}). ` +
          `By design, a FIFO queue hands a message group to one invocation at a time, so one customer’s ${result.scenario.updatesPerCustomer + 1} events pass each consumer one after another, where standard may hand them to concurrent invocations; without a batching window, a lone event is handled at once.`,
      );
    }
  }
  if (!result.cost.skipped) {
    const steady = steadyLifecycle(result);
    const billOf = (ordering: Ordering) =>
      result.cost.skipped
        ? undefined
        : result.cost.bills.find(
            (b) =>
              b.ordering === ordering &&
              b.bill.workload === 'lifecycle' &&
              b.bill.load === steady?.load,
          )?.bill;
    const from = billOf('standard');
    const to = billOf('perCustomer');
    if (steady !== undefined && from !== undefined && to !== undefined) {
      const differences = lineDifferences(from, to)
        .slice(0, 4)
        .map((d) => `${d.item} ${d.usd >= 0 ? '+' : '−'}${dollars(Math.abs(d.usd))}`)
        .join(', ');
      out.push(
        `Cost: a million lifecycles at ${steady.load} cost ${dollars(steady.perCustomerUsd)} in perCustomer against ${dollars(steady.standardUsd)} in standard (${times(steady.ratio)}); ` +
          `the largest differences: ${differences || 'none'}. ` +
          'The FIFO consumers have no batching window, so each message is its own invocation, receive and delete; one at a time, every batch holds one record in either ordering and only the prices differ.',
      );
    }
  }
  return out.flatMap((paragraph, i) => (i === 0 ? [paragraph] : ['', paragraph]));
};

export function summaryRows(result: OrderingResult): SummaryRow[] {
  const standard = measuredOf(result, 'standard');
  const fifo = measuredOf(result, 'perCustomer');
  const rate = (s: ScenarioRun | undefined) =>
    s?.eventsPerSecond === null || s?.eventsPerSecond === undefined
      ? '–'
      : `${s.eventsPerSecond.toFixed(1)}/s`;
  const lifecycle = steadyLifecycle(result);
  const outOfOrder = (s: ScenarioRun | undefined) =>
    s === undefined ? '–' : `${s.archive.customersOutOfOrder} of ${s.created}`;
  return [
    {
      metric: `Ordering scenario (${scenarioLabel(result)}), events/s: standard vs perCustomer (local emulator; not AWS)`,
      value: `${rate(standard.scenario)} vs ${rate(fifo.scenario)} (${ratioOf(standard.scenario?.eventsPerSecond, fifo.scenario?.eventsPerSecond)})`,
      goal: '–',
      met: null,
    },
    {
      metric: `Pipeline latency p50 / p95 at ${result.latency.perSecond}/s: standard vs perCustomer (local emulator; not AWS)`,
      value: `${p50p95(standard.latency?.latency?.pipeline)} vs ${p50p95(fifo.latency?.latency?.pipeline)}`,
      goal: '–',
      met: null,
    },
    {
      metric:
        'Customers the archive met out of version order in the ordering scenario: standard vs perCustomer',
      value: `${outOfOrder(standard.scenario)} vs ${outOfOrder(fifo.scenario)}`,
      goal: 'none in perCustomer',
      met: fifo.scenario === undefined ? null : fifo.scenario.archive.customersOutOfOrder === 0,
    },
    {
      metric: `Cost per million customer lifecycles, ${lifecycle?.load ?? 'steady'}: standard vs perCustomer (us-east-1 list prices, estimated)`,
      value: lifecycle
        ? `${dollars(lifecycle.standardUsd)} vs ${dollars(lifecycle.perCustomerUsd)} (${times(lifecycle.ratio)})`
        : '–',
      goal: '–',
      met: null,
    },
  ];
}
