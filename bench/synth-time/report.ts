import type { SummaryRow } from '../section';
import { formatMeasured } from '../stats';
import { type AppPhases, GOAL_RATIO, type SynthTimeResult } from './result';

// The synth-time section written up: its part of bench/RESULTS.md and its summary rows.

export interface PhaseRow {
  readonly phase: string;
  readonly ours: number;
  readonly reference: number;
}

/**
 * Where one synth's time goes, from the medians: the parts add up to about the CLI's
 * wall time. Everything but the launchers (timed on the app alone) comes from the
 * CLI synths themselves, so a phase that varies between runs is not counted twice.
 */
export const phaseSplit = (result: SynthTimeResult): PhaseRow[] => {
  const split = (p: AppPhases) => [
    p.outsideApp.median - p.launcher.median,
    p.launcher.median,
    p.load.median,
    p.constructionWithoutBundling.median,
    p.bundling.median,
    p.validation.median - p.pluginValidation.median,
    p.pluginValidation.median,
    p.synthesisWithoutValidation.median,
  ];
  const labels = [
    "CLI's own work (start, spawning the app, reading the assembly)",
    'launching the app (npx, tsx), process exits',
    'loading modules (Node start to `new App()`: aws-cdk-lib, cdk-nag, TypeScript)',
    'constructing the stack, bundling excluded',
    `bundling (${result.ours.bundledAssets} / ${result.reference.bundledAssets} functions)`,
    "validation: aws-cdk-lib's built-in CloudFormation rules (WASM engine)",
    'validation: plugins (cdk-nag AwsSolutions + Serverless packs)',
    'synthesis, the rest (resolve, write the assembly)',
  ];
  const ours = split(result.ours);
  const reference = split(result.reference);
  return labels.map((phase, i) => ({ phase, ours: ours[i] ?? 0, reference: reference[i] ?? 0 }));
};

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

const runsText = (runs: AppPhases['functions']): string =>
  runs
    .map(
      (f) =>
        `${f.asset.split('/').slice(1, -1).join('/') || f.asset} ${seconds(f.wall.median)} (esbuild ${seconds(f.esbuild.median)})`,
    )
    .join(', ') || 'none';

export const render = (result: SynthTimeResult): string => {
  const rows = phaseSplit(result);
  const fns = result.ours.functions;
  const startShare = fns.reduce((sum, f) => sum + f.wall.median - f.esbuild.median, 0);
  const excess = result.ours.cli.median - GOAL_RATIO * result.reference.cli.median;
  const gap = rows
    .map((row) => ({ ...row, extra: row.ours - row.reference }))
    .filter((row) => row.extra > 0)
    .sort((a, b) => b.extra - a.extra);
  const short = (phase: string) => phase.replace(/ \(.*\)$/, '');
  return [
    '## Synth time',
    '',
    `\`cdk synth -q\` (CLI ${result.cliVersion}, Node ${result.node}, ${result.cpu}) of this app beside a reference \`cdk init\`-style app with one NodejsFunction on default bundling, ` +
      `run by \`${result.commands.reference}\` as \`cdk init\` runs it (less its \`npx tsc &&\` type-check, which this repository leaves to \`npm test\`; ours by \`${result.commands.ours}\`), ` +
      `same cdk.json feature flags, same node_modules, run alternately: median of ${result.runs.cli} synths each${result.runs.cli > 1 ? ' after one untimed warm-up' : ''}. ` +
      "The split comes from aws-cdk-lib's own performance counters of those synths (written to CDK_PERF_COUNTERS_FILE; `-c @aws-cdk/core.slowSynthThreshold=0` makes every synth write them), " +
      `and from running each app's command without the CLI, as is and with \`CDK_VALIDATION=false\` to time the validation plugins alone (${result.runs.app} runs each). ` +
      `Load average ${result.loadAverage.before.toFixed(1)} → ${result.loadAverage.after.toFixed(1)} on ${result.cpu.split(' × ')[1] ?? '?'} cores during the runs.`,
    '',
    '| phase | this app | reference |',
    '|---|---|---|',
    `| **\`cdk synth\`, spawn to exit** | **${formatMeasured(result.ours.cli)}** | **${formatMeasured(result.reference.cli)}** |`,
    ...rows.map((row) => `| ${row.phase} | ${seconds(row.ours)} | ${seconds(row.reference)} |`),
    '',
    `Ratio ${result.ratio.toFixed(2)}× the reference (goal ≤ ${GOAL_RATIO}×): **${result.goalMet ? 'met' : 'missed'}**` +
      (result.goalMet ? '.' : `; meeting it takes ${seconds(excess)} off ours.`) +
      ` Where ours spends more than the reference: ${gap.map((row) => `${short(row.phase)} +${seconds(row.extra)}`).join(', ')}.`,
    '',
    `Each esbuild run (from the "Bundling asset" line of the function that started it to esbuild's "Done", median): ours ${runsText(fns)}; the reference ${runsText(result.reference.functions)}. ` +
      `About ${seconds(startShare)} of ours is starting esbuild, not building. ` +
      `Ours builds all ${result.ours.bundledAssets} handlers in one run of esbuild's API inside the app (lib/bundling.ts) and each function copies its output; ` +
      'NodejsFunction, as in the reference, starts esbuild through `npx --no-install esbuild` once per function.',
    '',
  ].join('\n');
};

export const summaryRows = (result: SynthTimeResult): SummaryRow[] => [
  {
    metric: '`cdk synth` time vs a one-function reference app',
    value: `${seconds(result.ours.cli.median)} vs ${seconds(result.reference.cli.median)} (${result.ratio.toFixed(2)}×)`,
    goal: `≤ ${GOAL_RATIO}×`,
    met: result.goalMet,
  },
];
