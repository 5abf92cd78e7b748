import type { SummaryRow } from '../section';
import {
  AVATAR_UPLOAD_SHARE,
  type Bill,
  type CostResult,
  type Design,
  type LineItem,
  loadModels,
  type Workload,
} from './model';

// The cost section written up: its part of bench/RESULTS.md and its summary rows.

export const dollars = (value: number): string =>
  value >= 100
    ? `$${value.toFixed(0)}`
    : value >= 0.01 || value === 0
      ? `$${value.toFixed(2)}`
      : '<$0.01';

const percent = (share: number): string => `${(100 * share).toFixed(0)}%`;

const quantity = (value: number): string =>
  value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(2);

const billOf = (result: CostResult, design: Design, workload: Workload, load: string): Bill => {
  const bill = result.bills.find(
    (b) => b.design === design && b.workload === workload && b.load === load,
  );
  if (bill === undefined) throw new Error(`no ${design} ${workload} bill at ${load}`);
  return bill;
};

/** The largest line items of a bill, largest first. */
export const biggestItems = (bill: Bill, count = 3): LineItem[] =>
  [...bill.lines].sort((a, b) => b.usd - a.usd).slice(0, count);

const steadyLabel = (result: CostResult) => loadModels(result.steadyPerSecond)[0]?.label ?? '';

const uploaders = `${(100 * AVATAR_UPLOAD_SHARE).toFixed(0)}%`;

/** How the totals table names each workload. */
export const WORKLOAD_LABELS: Readonly<Record<Workload, string>> = {
  create: 'created once',
  avatar: 'an avatar uploaded (per million uploads)',
  lifecycle: `create + avatar upload (${uploaders} of customers) + update + delete`,
};

export function render(result: CostResult): string {
  const steady = steadyLabel(result);
  const ours = billOf(result, 'ours', 'create', steady);
  const defaults = billOf(result, 'default', 'create', steady);
  const lineTable = [
    `| line item (1,000,000 customers created, ${steady}) | quantity | ours | default choices | default quantity |`,
    '|---|---|---|---|---|',
    ...ours.lines.map((l, i) => {
      const d = defaults.lines[i];
      return `| ${l.item} | ${quantity(l.quantity)} ${l.unit} | ${dollars(l.usd)} | ${d ? dollars(d.usd) : '–'} | ${d ? `${quantity(d.quantity)} ${d.unit}` : '–'} |`;
    }),
    `| **total** | | **${dollars(ours.totalUsd)}** | **${dollars(defaults.totalUsd)}** | |`,
  ].join('\n');
  const totals = [
    '| workload (1,000,000 customers) | load | ours | default choices | ours ÷ default |',
    '|---|---|---|---|---|',
    ...result.comparisons.map(
      (c) =>
        `| ${WORKLOAD_LABELS[c.workload]} | ${c.load} | ${dollars(c.oursUsd)} | ${dollars(c.defaultUsd)} | ${c.ratio.toFixed(2)}× |`,
    ),
  ].join('\n');
  const biggest = biggestItems(ours)
    .map((l) => `${l.item} ${dollars(l.usd)} (${((100 * l.usd) / ours.totalUsd).toFixed(0)}%)`)
    .join(', ');
  const lifecycle = billOf(result, 'ours', 'lifecycle', steady);
  const biggestLifecycle = biggestItems(lifecycle)
    .map((l) => `${l.item} ${dollars(l.usd)}`)
    .join(', ');
  const upload = billOf(result, 'ours', 'avatar', steady);
  const biggestUpload = biggestItems(upload)
    .map((l) => `${l.item} ${dollars(l.usd)}`)
    .join(', ');
  const savings = ours.lines
    .map((l, i) => ({ item: l.item, saved: (defaults.lines[i]?.usd ?? 0) - l.usd }))
    .filter((s) => s.saved > 0.005)
    .sort((a, b) => b.saved - a.saved)
    .map((s) => `${s.item} ${dollars(s.saved)}`)
    .join(', ');
  return [
    '## Cost per million customers',
    '',
    `Estimated from the pipeline benchmark's counted calls and measured call spans, the template's memory and architecture per function, and ${result.prices.region} list prices recalled on ${result.prices.readOn} (bench/cost/prices.json: ${result.prices.source}). ` +
      '“Default choices” is the same pipeline built the default way: x86_64, one SNS Publish per record instead of PublishBatch, and SQS batches of one.',
    '',
    lineTable,
    '',
    totals,
    '',
    `Created once at ${steady}, the biggest items are ${biggest}; over a full lifecycle, ${biggestLifecycle}. ` +
      `A million avatar uploads cost ${dollars(upload.totalUsd)}, most of it ${biggestUpload}. ` +
      `Against the default choices, ours save ${savings || 'nothing measurable'} per million creations. ` +
      'One at a time, every batch holds one record, so PublishBatch and SQS batching save nothing and only arm64’s lower GB-second price remains. ' +
      `Requests, not compute, make the bill: S3 requests are ${percent(result.findings.s3Share)} of a creation's, Lambda (requests and duration) ${percent(result.findings.lambdaShare)}.`,
    '',
    'Assumptions:',
    '',
    ...result.assumptions.map((a) => `- ${a}`),
    '',
    `Not counted: ${result.notCounted.join('; ')}.`,
  ].join('\n');
}

export function summaryRows(result: CostResult): SummaryRow[] {
  const steady = steadyLabel(result);
  const labels: Record<Workload, string> = {
    create: 'customers created',
    avatar: 'avatar uploads (the form, the POST to S3, the resize, the update it causes)',
    lifecycle: `customer lifecycles (create, ${uploaders} upload an avatar, update, delete)`,
  };
  return (['create', 'avatar', 'lifecycle'] as const).map((workload) => {
    const c = result.comparisons.find((x) => x.workload === workload && x.load === steady);
    const label = labels[workload];
    return {
      metric: `Cost per million ${label}, ${steady} (${result.prices.region} list prices, estimated)`,
      value: c
        ? `${dollars(c.oursUsd)} (default choices ${dollars(c.defaultUsd)}, ${c.ratio.toFixed(2)}×)`
        : '–',
      goal: 'below the default choices',
      met: c ? c.oursUsd < c.defaultUsd : null,
    };
  });
}
