import { pipeline } from '../pipeline';
import type { Section, SectionContext } from '../section';
import { type CostResult, computeCost, loadPrices } from './model';
import { render, summaryRows } from './report';

const run = async ({ log, resultOf }: SectionContext): Promise<CostResult> => {
  const result = computeCost(resultOf(pipeline), loadPrices());
  for (const c of result.comparisons) {
    log(
      `  ${c.workload}, ${c.load}: $${c.oursUsd.toFixed(2)} vs default choices $${c.defaultUsd.toFixed(2)} per million (${c.ratio.toFixed(2)}×)`,
    );
  }
  return result;
};

/**
 * The bill for a million customers, from what the pipeline section counted and timed,
 * beside the same pipeline built with the default choices.
 */
export const cost: Section<CostResult> = {
  name: 'cost',
  needs: [pipeline],
  run,
  render,
  summaryRows,
};
