import * as fs from 'node:fs';
import * as path from 'node:path';
import { measure } from '../../bench/stats';
import {
  type AppRuns,
  bundlingSpans,
  COUNTERS,
  cliContext,
  LineClock,
  type Outcome,
  phasesOf,
  REFERENCE_APP_COMMAND,
  synthEnvironment,
} from '../../bench/synth-time';
import { phaseSplit, render, summaryRows } from '../../bench/synth-time/report';
import type { SynthTimeResult } from '../../bench/synth-time/result';

describe('bundling spans from a synth’s output', () => {
  const lines = [
    { at: 1000, text: 'Bundling asset CustomerPipeline-dev/CustomerApi/Function/Code/Stage...' },
    { at: 1100, text: 'npm warn Unknown env config "nodedir".' },
    { at: 1700, text: '  cdk.out/bundling-temp-abc/index.mjs  595.4kb' },
    { at: 1700, text: '⚡ Done in 316ms' },
    {
      at: 2000,
      text: 'Bundling asset CustomerPipeline-dev/ArchiveConsumer/Function/Code/Stage...',
    },
    { at: 4000, text: '⚡ Done in 1.2s' },
  ];

  test('pairs each "Bundling asset" line with the next "Done"', () => {
    expect(bundlingSpans(lines)).toEqual([
      { asset: 'CustomerPipeline-dev/CustomerApi/Function', wallMs: 700, esbuildMs: 316 },
      { asset: 'CustomerPipeline-dev/ArchiveConsumer/Function', wallMs: 2000, esbuildMs: 1200 },
    ]);
  });

  test('ignores a "Done" that no bundling line opened', () => {
    expect(bundlingSpans([{ at: 5, text: '⚡ Done in 3ms' }])).toEqual([]);
  });

  test('stamps lines split across chunks with the arrival of their end', () => {
    const clock = new LineClock();
    clock.push('Bundling asset A/Code/St', 10);
    clock.push('age...\n⚡ Done', 20);
    clock.push(' in 5ms\ntrailing', 30);
    expect(clock.end(40)).toEqual([
      { at: 20, text: 'Bundling asset A/Code/Stage...' },
      { at: 30, text: '⚡ Done in 5ms' },
      { at: 40, text: 'trailing' },
    ]);
  });
});

describe('what every synth runs with', () => {
  test('no AWS credentials or profile, no version check, notices or telemetry', () => {
    const env = synthEnvironment({
      PATH: '/bin',
      AWS_ACCESS_KEY_ID: 'x',
      AWS_SECRET_ACCESS_KEY: 'x',
      AWS_SESSION_TOKEN: 'x',
      AWS_PROFILE: 'p',
      AWS_CA_BUNDLE: '/ca.pem',
    });
    expect(env).toMatchObject({
      PATH: '/bin',
      AWS_CA_BUNDLE: '/ca.pem',
      AWS_EC2_METADATA_DISABLED: 'true',
      CDK_DISABLE_CLI_TELEMETRY: 'true',
      CDK_DISABLE_VERSION_CHECK: 'true',
    });
    for (const key of [
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_SESSION_TOKEN',
      'AWS_PROFILE',
    ]) {
      expect(env).not.toHaveProperty(key);
    }
  });

  test("the app alone gets the CLI's context: cdk.json's, the counters switch, the CLI's keys", () => {
    expect(cliContext({ stage: 'dev' })).toEqual({
      stage: 'dev',
      '@aws-cdk/core.slowSynthThreshold': 0,
      'aws:cdk:enable-path-metadata': true,
      'aws:cdk:enable-asset-metadata': true,
      'aws:cdk:version-reporting': true,
      'aws:cdk:bundling-stacks': ['**'],
    });
  });
});

/** Counters as aws-cdk-lib names them; bundling under `bundle:<source>`, as the construct tags it. */
const outcome = (
  wall: number,
  counters: Partial<Record<keyof typeof COUNTERS, number>>,
  lines = [],
  bundlingSource = 'PipelineFunction',
) => ({
  wall,
  lines,
  counters: Object.fromEntries(
    Object.entries(counters).map(([key, value]) => [
      key === 'bundling'
        ? `${COUNTERS.bundling}${bundlingSource}`
        : COUNTERS[key as keyof typeof COUNTERS],
      value,
    ]),
  ),
});

/** A synth of `scale` × the reference's phases, with `functions` bundles. */
const appRuns = (scale: number, functions: number, nag: number): AppRuns => {
  const counters = {
    load: 700 * scale,
    construction: 500 * scale + 800 * functions,
    bundling: 800 * functions,
    synthesis: 3000 * scale + nag,
    validation: 2900 * scale + nag,
    cfnValidation: 300 * scale,
  };
  const inApp = counters.load + counters.construction + counters.synthesis;
  const lines = Array.from({ length: functions }, (_, i) => [
    { at: i * 1000, text: `Bundling asset S/Fn${i}/Code/Stage...` },
    { at: i * 1000 + 800, text: '⚡ Done in 300ms' },
  ]).flat();
  return {
    cli: [1, 2, 3].map((i) => ({ ...outcome(inApp + 2000 + i, counters), lines })) as Outcome[],
    app: [outcome(inApp + 1000, counters)] as Outcome[],
    appWithoutBuiltin: [
      outcome(inApp - 2900 * scale, { ...counters, validation: nag }),
    ] as Outcome[],
  };
};

const result = (oursScale: number): SynthTimeResult => {
  const ours = phasesOf(appRuns(oursScale, 5, 600));
  const reference = phasesOf(appRuns(1, 1, 0));
  const ratio = ours.cli.median / reference.cli.median;
  return {
    cliVersion: '2.1148.1',
    node: 'v24.0.0',
    cpu: 'test CPU × 2',
    runs: { cli: 3, app: 1 },
    commands: { ours: 'node --import tsx bin/app.ts', reference: 'npx tsx bin/app.ts' },
    loadAverage: { before: 0.5, after: 0.7 },
    ours,
    reference,
    ratio,
    goalMet: ratio <= 1.5,
  };
};

test('the reference runs its app as `cdk init` does, less the type-check ours skips too', () => {
  const template = JSON.parse(
    fs.readFileSync(
      path.join(
        __dirname,
        '..',
        '..',
        'node_modules/aws-cdk/lib/init-templates/app/typescript/cdk.template.json',
      ),
      'utf8',
    ),
  );
  expect(template.app.replace('npx tsc && ', '').replace('%name%', 'app')).toBe(
    REFERENCE_APP_COMMAND,
  );
});

describe('the synth-time split', () => {
  test('takes the phases from the counters and the runs of the app alone', () => {
    const phases = phasesOf(appRuns(1, 5, 600));
    expect(phases.bundling.median).toBe(4000);
    expect(phases.constructionWithoutBundling.median).toBe(500);
    expect(phases.pluginValidation.median).toBe(600);
    expect(phases.launcher.median).toBe(1000);
    expect(phases.outsideApp.median).toBe(2002);
    expect(phases.functions).toHaveLength(5);
    expect(phases.functions[0]).toMatchObject({
      asset: 'S/Fn0',
      wall: measure([800, 800, 800], 'ms'),
      esbuild: measure([300, 300, 300], 'ms'),
    });
  });

  test('bundling sums every bundling source: NodejsFunction’s and PipelineFunction’s', () => {
    const mixed = {
      ...outcome(9000, { load: 700 }),
      counters: {
        'phase:Load': 700,
        'bundle:PipelineFunction': 1200,
        'bundle:NodejsFunction': 400,
      },
    } as Outcome;
    const phases = phasesOf({ cli: [mixed], app: [mixed], appWithoutBuiltin: [mixed] });
    expect(phases.bundling.median).toBe(1600);
  });

  test('one esbuild run for every function: one span, every function counted', () => {
    const lines = [
      { at: 0, text: 'Bundling asset S/Api/Function/Code/Stage...' },
      { at: 10, text: '  ../../tmp/b/api/index.mjs  424.3kb' },
      { at: 900, text: '⚡ Done in 700ms' },
      { at: 950, text: 'Bundling asset S/Welcome/Function/Code/Stage...' },
      { at: 990, text: 'Bundling asset S/Archive/Function/Code/Stage...' },
    ];
    const run = { ...outcome(9000, { load: 700, bundling: 1000 }), lines } as Outcome;
    const phases = phasesOf({ cli: [run], app: [run], appWithoutBuiltin: [run] });
    expect(phases.bundledAssets).toBe(3);
    expect(phases.functions).toEqual([
      {
        asset: 'S/Api/Function',
        wall: measure([900], 'ms'),
        esbuild: measure([700], 'ms'),
      },
    ]);
    const text = render({ ...result(1), ours: phases });
    expect(text).toContain('| bundling (3 / 1 functions) |');
    expect(text).toContain('ours Api 0.90 s (esbuild 0.70 s)');
    expect(text).toContain('Ours builds all 3 handlers in one run');
  });

  test('the parts add up to the CLI’s wall time', () => {
    const r = result(1);
    const rows = phaseSplit(r);
    const sum = rows.reduce((total, row) => total + row.ours, 0);
    expect(sum).toBeCloseTo(r.ours.cli.median, 6);
    expect(rows[0]?.ours).toBe(1002);
    expect(rows.find((row) => row.phase.startsWith('validation: plugins'))?.ours).toBe(600);
    expect(rows.find((row) => row.phase.startsWith('validation: aws-cdk-lib'))?.ours).toBe(2900);
  });

  test('the report shows the table, the verdict and where ours spends more', () => {
    const text = render(result(2));
    expect(text).toContain('## Synth time');
    expect(text).toContain('| phase | this app | reference |');
    expect(text).toContain('**missed**');
    expect(text).toContain('Where ours spends more than the reference: bundling +3.20 s');
    expect(text).toContain('meeting it takes');
    expect(text).toContain('Fn0 0.80 s (esbuild 0.30 s)');
    expect(text).toContain('run by `npx tsx bin/app.ts`');
    expect(text).toContain('ours by `node --import tsx bin/app.ts`');
  });

  test('one summary row with both medians and the ratio', () => {
    const r = result(1);
    expect(summaryRows(r)).toEqual([
      {
        metric: '`cdk synth` time vs a one-function reference app',
        value: expect.stringMatching(/^\d+\.\d\d s vs \d+\.\d\d s \(\d\.\d\d×\)$/),
        goal: '≤ 1.5×',
        met: r.goalMet,
      },
    ]);
  });
});
