import type { SummaryRow } from '../section';
import { formatMeasured } from '../stats';
import { AVATAR_UPLOAD, type Range } from './calls';
import type { LoadRun, PipelineResult } from './result';
import { MAX_GROWTH_MS_PER_SECOND, MAX_RISE_MS } from './trend';

const rangeText = (r: Range): string => (r.min === r.max ? `${r.min}` : `${r.min}–${r.max}`);
const ms = (value: number): string => `${value.toFixed(0)} ms`;

const latencyRun = (result: PipelineResult): LoadRun | undefined =>
  result.load.runs.find((r) => r.offeredPerSecond === result.load.latencyRate);

const lifecycleTotals = (result: PipelineResult) => ({
  measured: result.calls.actions.reduce((sum, a) => sum + a.total.median, 0),
  floor: result.calls.actions.reduce((sum, a) => sum + a.floorTotal, 0),
});

export function render(result: PipelineResult): string {
  const { calls, load } = result;
  const windows = [...new Set(result.mappings.map((m) => m.windowSeconds))];
  const over = calls.comparison.filter((c) => c.over);
  const callTable = [
    '| action | function | service | operation | measured per cycle | floor | why the design needs it |',
    '|---|---|---|---|---|---|---|',
    ...calls.comparison.map(
      (c) =>
        `| ${c.action} | ${c.fn} | ${c.service} | ${c.operation} | ${rangeText(c.measured)}${c.over ? ' **▲**' : ''} | ${c.floor} | ${c.why || '–'} |`,
    ),
    ...calls.actions.map(
      (a) => `| **${a.action}** | all | | | **${rangeText(a.total)}** | **${a.floorTotal}** | |`,
    ),
  ].join('\n');
  const pollerLines = calls.actions.map((a) => {
    const messages = a.deliveries.map((d) => `${d.queue} ${rangeText(d.messages)}`).join(', ');
    return `${a.action}: ${messages || 'none'}`;
  });
  const loadTable = [
    '| offered | customers | done | welcomed once | archived once | DLQ | failed receives | pipeline latency p50 / p95 | API p50 | latency growth | DynamoDB writes/s | result |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...load.runs.map((r) => {
      const latency = r.latency
        ? `${ms(r.latency.pipeline.median)} / ${ms(r.latency.pipeline.p95)}`
        : '–';
      return `| ${r.offeredPerSecond}/s | ${r.customers} | ${r.completed} | ${r.welcomedOnce} | ${r.archivedOnce} | ${r.deadLetters} | ${r.failedDeliveries} | ${latency} | ${r.latency ? ms(r.latency.api.median) : '–'} | ${r.trend ? `${r.trend.growthMsPerSecond.toFixed(0)} ms/s` : '–'} | ${r.dynamodbWritesPerSecond.toFixed(1)} | ${r.ok ? 'ok' : r.problems.join('; ')} |`;
    }),
  ].join('\n');
  const at = latencyRun(result);
  const totals = lifecycleTotals(result);
  const behind = load.runs.find((r) => !r.ok);
  const perConsumer = at?.latency
    ? `welcome ${formatMeasured(at.latency.welcome)}, archive ${formatMeasured(at.latency.archive)}, marketing ${formatMeasured(at.latency.marketing)}`
    : 'not measured';
  const sustained =
    load.sustainedPerSecond === null
      ? 'no rate tried was sustained'
      : `${load.sustainedIsLowerBound ? '≥ ' : ''}${load.sustainedPerSecond} customer${load.sustainedPerSecond === 1 ? '' : 's'}/s`;
  return [
    '## Pipeline: AWS calls per customer, latency and throughput',
    '',
    `On the local cloud (moto, time scale ${result.timeScale}: batching windows of ${windows.map((w) => `${w * 1000 * result.timeScale} ms`).join(', ') || 'none'} instead of ${windows.map((w) => `${w} s`).join(', ') || 'none'}). ` +
      'Call counts are exact: every AWS call of every function, counted by its proxy. Times are the emulator’s on this machine, not AWS’s.',
    '',
    `### AWS calls per customer (created opted in, then given an avatar, a ${AVATAR_UPLOAD.width} × ${AVATAR_UPLOAD.height} ${AVATAR_UPLOAD.format.toUpperCase()} through the presigned form, then renamed and opted out, then deleted; ${calls.cycles} cycle(s), one customer at a time)`,
    '',
    callTable,
    '',
    `Per-cycle counts are ${calls.identical ? 'identical in every cycle' : 'not identical in every cycle (min–max shown)'}. ` +
      `A lifecycle makes ${totals.measured} calls (median) against a floor of ${totals.floor}. ` +
      (over.length === 0
        ? 'No operation is above its floor.'
        : `Above the floor (▲): ${over.map((c) => `${c.action} ${c.fn} ${c.operation} (${c.reason})`).join('; ')}.`),
    '',
    'Not in the table, because Lambda’s pollers (event source mappings) make them, not the functions: SQS ReceiveMessage and ' +
      'DeleteMessageBatch, and DynamoDB Streams GetRecords/GetShardIterator (free in AWS for Lambda triggers). Measured, ' +
      `messages the SQS pollers handed from each queue per action: ${pollerLines.join('; ')}. ` +
      'Estimated from that: alone, each message costs one ReceiveMessage and one DeleteMessageBatch (billed SQS requests); ' +
      'at full batches of 10, a tenth of that (the avatar uploads queue hands one message per invocation). SNS’s deliveries to the queues, and S3’s notifications of uploads to theirs, are free.',
    '',
    `### Latency and throughput (${load.customersPerRun} customers per rate, opted in, sent at a steady rate; a fresh local cloud per rate)`,
    '',
    loadTable,
    '',
    `At ${load.latencyRate}/s (${load.sustainedPerSecond === load.latencyRate ? 'the highest rate sustained' : 'the lowest rate tried; none was sustained'}), from POST /customers returning to every consumer done: ` +
      (at?.latency
        ? `p50 ${ms(at.latency.pipeline.median)}, p95 ${ms(at.latency.pipeline.p95)} (${formatMeasured(at.latency.pipeline)}); per consumer: ${perConsumer}. `
        : 'not measured. ') +
      `Sustained: ${sustained} (every customer welcomed once, archived once, given a contact, DLQs empty, latency not growing: the last quarter's median within ${MAX_RISE_MS} ms of the first's, or within twice it while the least-squares slope of latency over send time stays under ${MAX_GROWTH_MS_PER_SECOND} ms per second of the run, i.e. completing within 10% of the offered rate). ` +
      'Done means: the provider received the welcome (sink receivedAt), the archive and marketing handlers logged their write (millisecond timestamps; S3 checked after). ' +
      'These limits are the emulator’s, not the design’s: the local cloud runs each function with at most 4 concurrent invocations, and moto serves one DynamoDB request at a time (the local cloud’s patch, for DynamoDB’s atomicity). ' +
      (behind === undefined
        ? 'No rate tried made the local cloud fall behind. '
        : `Where it fell behind (${behind.offeredPerSecond}/s), it made ${behind.dynamodbWritesPerSecond.toFixed(0)} DynamoDB writes/s; a customer takes four (the API's transaction, welcome's claim and mark, marketing's consent record): about ${(behind.dynamodbWritesPerSecond / 4).toFixed(0)} customers/s, the emulator's ceiling. `) +
      'In AWS the table is on demand and each function scales out; there, the batching windows (1 s) dominate the latency.',
    ...renderIam(result),
  ].join('\n');
}

/** What the roles grant that the lifecycle never used, from the local cloud's IAM report. */
const renderIam = ({ iam }: PipelineResult): string[] => {
  if (iam === undefined) return [];
  const rows = iam.unused.map(
    (u) => `| ${u.fn} | \`${u.action}\` | ${u.resources.map((r) => `\`${r}\``).join(', ')} |`,
  );
  return [
    '',
    '### IAM: granted, never used in the lifecycle',
    '',
    'The local cloud evaluates every call of every function, and its pollers’ reads, against the function’s role in the template (`--iam enforce`). ' +
      `After the create/avatar/update/delete cycles above, ${iam.denied.length === 0 ? 'nothing was denied' : `denied: ${iam.denied.map((d) => `${d.fn} ${d.action} on ${d.resource}`).join('; ')}`}, ` +
      `and ${iam.unused.length === 0 ? 'every grant was used.' : 'these grants were never used (by the function or by Lambda for it):'}`,
    ...(rows.length === 0
      ? []
      : ['', '| function | action | resources |', '|---|---|---|', ...rows]),
  ];
};

export function summaryRows(result: PipelineResult): SummaryRow[] {
  const totals = lifecycleTotals(result);
  const at = latencyRun(result);
  const { load } = result;
  return [
    {
      metric:
        'AWS calls by the functions per customer lifecycle (create, avatar upload, update, delete)',
      value: `${totals.measured} (floor ${totals.floor})`,
      goal: 'at the design’s floor',
      met: totals.measured <= totals.floor,
    },
    {
      metric: `Pipeline latency p50 / p95 at ${load.latencyRate}/s (local emulator, time scale ${result.timeScale}; not AWS)`,
      value: at?.latency
        ? `${ms(at.latency.pipeline.median)} / ${ms(at.latency.pipeline.p95)}`
        : '–',
      goal: '–',
      met: null,
    },
    {
      metric: 'Sustained rate, nothing lost (local emulator; not AWS)',
      value:
        load.sustainedPerSecond === null
          ? 'none'
          : `${load.sustainedIsLowerBound ? '≥ ' : ''}${load.sustainedPerSecond}/s`,
      goal: '–',
      met: null,
    },
  ];
}
