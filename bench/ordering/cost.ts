import type { Ordering } from '../../lib/config';
import {
  type Bill,
  estimate,
  FIFO_ASSUMPTIONS,
  loadModels,
  type Prices,
  STEADY_PER_SECOND,
  WORKLOAD_ACTIONS,
  type Workload,
} from '../cost/model';
import type { PipelineResult } from '../pipeline';
import type { FunctionConfig, MappingConfig } from '../pipeline/template';
import type { CostComparison, OrderingCost } from './result';

/**
 * Both orderings' bills per million customers, "ours" design, for every workload and load of
 * the cost section. The calls per action are the pipeline section's (the handlers make the
 * same in either ordering); what differs is the topic's and queues' prices and the event
 * sources, so a `perCustomer` bill takes its functions and mappings from a `perCustomer`
 * template, and the standard bill is the cost section's own.
 */
export const compareOrderings = (
  pipeline: PipelineResult,
  perCustomerTemplate: {
    readonly functions: readonly FunctionConfig[];
    readonly mappings: readonly MappingConfig[];
  },
  prices: Prices,
  steadyPerSecond = STEADY_PER_SECOND,
): OrderingCost => {
  const fifo: PipelineResult = {
    ...pipeline,
    functions: perCustomerTemplate.functions,
    mappings: perCustomerTemplate.mappings,
  };
  const bills: { ordering: Ordering; bill: Bill }[] = [];
  const comparisons: CostComparison[] = [];
  for (const workload of Object.keys(WORKLOAD_ACTIONS) as Workload[]) {
    for (const load of loadModels(steadyPerSecond)) {
      const standard = estimate(pipeline, prices, 'ours', workload, load);
      const perCustomer = estimate(fifo, prices, 'ours', workload, load, 'perCustomer');
      bills.push(
        { ordering: 'standard', bill: standard },
        { ordering: 'perCustomer', bill: perCustomer },
      );
      comparisons.push({
        workload,
        load: load.label,
        standardUsd: standard.totalUsd,
        perCustomerUsd: perCustomer.totalUsd,
        ratio: perCustomer.totalUsd / standard.totalUsd,
      });
    }
  }
  return { steadyPerSecond, comparisons, bills, assumptions: FIFO_ASSUMPTIONS };
};

/** Where two bills differ, line by line (an item only one has counts as 0 in the other), largest first. */
export const lineDifferences = (
  from: Bill,
  to: Bill,
): { readonly item: string; readonly usd: number }[] => {
  const items = [...new Set([...from.lines, ...to.lines].map((l) => l.item))];
  const usdOf = (bill: Bill, item: string) =>
    bill.lines.filter((l) => l.item === item).reduce((sum, l) => sum + l.usd, 0);
  return items
    .map((item) => ({ item, usd: usdOf(to, item) - usdOf(from, item) }))
    .filter((d) => Math.abs(d.usd) >= 0.005)
    .sort((a, b) => Math.abs(b.usd) - Math.abs(a.usd));
};
