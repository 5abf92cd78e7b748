import { ORDERINGS, type Ordering } from '../../lib/config';
import { loadPrices } from '../cost/model';
import { pipeline } from '../pipeline';
import { TIME_SCALE, withCloud } from '../pipeline/driver';
import { loadRun } from '../pipeline/load';
import { readTemplate } from '../pipeline/template';
import type { Section, SectionContext } from '../section';
import { compareOrderings } from './cost';
import { render, summaryRows } from './report';
import type { ModeRun, OrderingResult, Outcome } from './result';
import { runScenario } from './scenario';

export type { OrderingResult } from './result';

/** A rate both orderings sustain on the local cloud (the pipeline section's middle rate). */
const LATENCY_PER_SECOND = 2;
/** The end-to-end ordering test's: a customer created, then updated this many times. */
const UPDATES_PER_CUSTOMER = 10;

const reasonOf = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);

/** Runs `body`; its failure is reported as the measurement skipped, and the section goes on. */
const attempt = async <T>(
  what: string,
  log: (line: string) => void,
  body: () => Promise<T>,
): Promise<Outcome<T>> => {
  try {
    return { skipped: false, ...(await body()) };
  } catch (error) {
    log(`  ${what} failed: ${reasonOf(error)}`);
    return { skipped: true, reason: `${what} failed: ${reasonOf(error)}` };
  }
};

const runMode = async (
  mode: Ordering,
  sizes: { readonly latencyCustomers: number; readonly scenarioCustomers: number },
  log: (line: string) => void,
): Promise<ModeRun> =>
  withCloud(
    log,
    async (cloud) => {
      const template = readTemplate(cloud.template);
      // The context reached the synth, or this is the other ordering's cloud under its name.
      const fifo = template.mappings.some((m) => m.fifo === true);
      if (fifo !== (mode === 'perCustomer')) {
        throw new Error(`a ${mode} cloud's template has ${fifo ? '' : 'no '}FIFO queues`);
      }
      const { functions } = template;
      const latency = await attempt('the load run', log, async () => {
        // As the pipeline section: the workers the run will use are started first.
        await loadRun(cloud, functions, 8, 8, (line) => log(`  warm-up, ${line.trim()}`));
        return loadRun(cloud, functions, LATENCY_PER_SECOND, sizes.latencyCustomers, log);
      });
      log(
        `  scenario: ${sizes.scenarioCustomers} customers, each created and updated ${UPDATES_PER_CUSTOMER} times, all at once`,
      );
      const scenario = await attempt('the scenario', log, () =>
        runScenario(cloud, functions, sizes.scenarioCustomers, UPDATES_PER_CUSTOMER, log),
      );
      return { mode, skipped: false, template, latency, scenario };
    },
    { context: { ordering: mode } },
  );

const run = async ({ quick, log, resultOf }: SectionContext): Promise<OrderingResult> => {
  const startedAt = Date.now();
  const sizes = { latencyCustomers: quick ? 20 : 100, scenarioCustomers: quick ? 10 : 50 };
  const modes: ModeRun[] = [];
  for (const mode of ORDERINGS) {
    log(`${mode}: a fresh local cloud`);
    modes.push(
      await runMode(mode, sizes, log).catch((error: unknown): ModeRun => {
        log(`  ${mode} skipped: ${reasonOf(error)}`);
        return { mode, skipped: true, reason: `its local cloud failed: ${reasonOf(error)}` };
      }),
    );
  }

  const perCustomer = modes.find((m) => m.mode === 'perCustomer');
  const cost: OrderingResult['cost'] =
    perCustomer === undefined || perCustomer.skipped
      ? { skipped: true, reason: 'no perCustomer template: its local cloud did not start' }
      : {
          skipped: false,
          ...compareOrderings(resultOf(pipeline), perCustomer.template, loadPrices()),
        };
  if (!cost.skipped) {
    for (const c of cost.comparisons) {
      log(
        `  ${c.workload}, ${c.load}: standard $${c.standardUsd.toFixed(2)}, perCustomer $${c.perCustomerUsd.toFixed(2)} per million (${c.ratio.toFixed(2)}×)`,
      );
    }
  }
  return {
    timeScale: Number(TIME_SCALE),
    latency: { perSecond: LATENCY_PER_SECOND, customers: sizes.latencyCustomers },
    scenario: { customers: sizes.scenarioCustomers, updatesPerCustomer: UPDATES_PER_CUSTOMER },
    modes,
    cost,
    durationSeconds: Math.round((Date.now() - startedAt) / 1000),
  };
};

/**
 * Issue 15's trade-off, measured in one run: each ordering on a fresh local cloud of its own
 * (latency at a steady rate, then the ordering scenario's throughput, latency and order), and
 * the bill per million customers in both from the cost model. Needs the pipeline section for
 * the calls each action makes. Absolute times are the emulator's, not AWS's.
 */
export const ordering: Section<OrderingResult> = {
  name: 'ordering',
  needs: [pipeline],
  run,
  render,
  summaryRows,
};
