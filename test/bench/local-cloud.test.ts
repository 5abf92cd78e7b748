import { jestTestsLine, parseReadyLine, scalingOf } from '../../bench/local-cloud/measure';
import { render, summaryRows } from '../../bench/local-cloud/report';
import type { LocalCloudResult } from '../../bench/local-cloud/result';
import { measure } from '../../bench/stats';

describe('scaling: the rate over the last window of completions ÷ over the first', () => {
  test('the first window runs from the first POST, the last between its own completions', () => {
    // 8 completions, windows of 2: the 2nd at 4 s from t0 = 0; the 6th at 10 s, the 8th at 11 s.
    const completions = [1000, 4000, 5000, 6000, 7000, 10_000, 10_500, 11_000];
    const scaling = scalingOf(0, completions, 2);
    expect(scaling).toEqual({ window: 2, firstPerSecond: 0.5, lastPerSecond: 2, ratio: 4 });
  });

  test('completions are taken in time order, whatever order they came in', () => {
    expect(scalingOf(1000, [5000, 2000, 4000, 3000], 2)).toEqual(
      scalingOf(1000, [2000, 3000, 4000, 5000], 2),
    );
  });

  test('a pipeline slowing as it fills gives a ratio below 1', () => {
    const steady = Array.from({ length: 400 }, (_, i) => (i + 1) * 10);
    const slowing = Array.from({ length: 400 }, (_, i) => (i + 1) * 10 + (i * i) / 10);
    expect(scalingOf(0, steady, 100)?.ratio).toBeCloseTo(1, 5);
    expect(scalingOf(0, slowing, 100)?.ratio).toBeLessThan(0.8);
  });

  test('is not measured without two windows of completions', () => {
    expect(scalingOf(0, [1, 2, 3], 2)).toBeNull();
    expect(scalingOf(0, [], 0)).toBeNull();
  });
});

describe('the ready line', () => {
  test('gives the seconds and how the assembly came, from the last ready line', () => {
    const log = [
      'reusing CustomerPipeline-dev synthesized in work/cdk.out: nothing changed since',
      'ready in 14.2 s (assembly synthesized): http://127.0.0.1:4000 (time scale 0.02). Ctrl-C to stop.',
      'stopped.',
      'ready in 5 s (assembly reused): http://127.0.0.1:4001 (time scale 0.02). Ctrl-C to stop.',
    ].join('\n');
    expect(parseReadyLine(log)).toEqual({ seconds: 5, assembly: 'reused' });
    expect(parseReadyLine(log.split('\n').slice(0, 2).join('\n'))).toEqual({
      seconds: 14.2,
      assembly: 'synthesized',
    });
  });

  test('is null when the cloud never said it was ready', () => {
    expect(parseReadyLine('the local cloud could not start: moto not installed')).toBeNull();
  });

  test("jest's Tests: line is read from its summary", () => {
    expect(jestTestsLine('PASS a\n\nTests:       2 failed, 40 passed, 42 total\nTime: 1 s')).toBe(
      '2 failed, 40 passed, 42 total',
    );
    expect(jestTestsLine('no summary')).toBeNull();
  });
});

describe('the report', () => {
  const result: LocalCloudResult = {
    timeScale: 0.02,
    burst: {
      customers: 200,
      clients: 10,
      created: 200,
      welcomed: 200,
      seconds: 16,
      perSecond: 12.5,
      problems: [],
    },
    ceiling: {
      clients: 8,
      seconds: 10,
      transactWritesPerSecond: 125,
      transactWriteErrors: 0,
      getItemsPerSecond: 210,
      getItemErrors: 1,
    },
    scaling: {
      customers: 2000,
      clients: 10,
      created: 2000,
      welcomed: 2000,
      seconds: 68,
      perSecond: 29.4,
      problems: [],
      scaling: { window: 500, firstPerSecond: 25, lastPerSecond: 30, ratio: 1.2 },
    },
    starts: [
      { assembly: 'synthesized', readySeconds: 18.4, wallSeconds: 19.9 },
      { assembly: 'reused', readySeconds: 9.1, wallSeconds: 10.2 },
    ],
    e2e: { skipped: false, seconds: 182.4, exitCode: 0, tests: '40 passed, 40 total' },
    watch: {
      skipped: false,
      warmUpSeconds: 2.6,
      savedToServed: measure([520, 560, 1210], 'ms'),
      reloadLines: measure([300, 310, 900], 'ms'),
    },
    durationSeconds: 400,
  };

  test('renders both runs, the ceiling beside the burst, both starts and the suite', () => {
    const markdown = render(result);
    expect(markdown).toMatch(/^## Local cloud/);
    expect(markdown).toContain('| burst | 200 | 10 | 200 | 200 | 16.0 s | 12.5/s | none |');
    expect(markdown).toContain('| scaling | 2000 | 10 | 2000 | 2000 | 68.0 s | 29.4/s | none |');
    expect(markdown).toContain('a ratio of 1.20');
    expect(markdown).toContain('125.0 TransactWriteItems/s');
    expect(markdown).toContain('210.0 GetItem/s (1 errors)');
    expect(markdown).toContain('10 % of the raw transaction rate');
    expect(markdown).toContain('| 1 | synthesized | 18.4 s | 19.9 s |');
    expect(markdown).toContain('| 2 | reused | 9.1 s | 10.2 s |');
    expect(markdown).toContain('182 s (passed; 40 passed, 40 total)');
    expect(markdown).toContain(
      '560 ms ± 173 (IQR/2, n=3) saved → served (the reload lines: 310 ms ± 150 (IQR/2, n=3); watching 2.6 s after ready)',
    );
  });

  test('summary rows: each target against its goal, the synthesized start without one', () => {
    expect(summaryRows(result)).toEqual([
      expect.objectContaining({
        value: '12.5/s (moto alone: 125 TransactWriteItems/s, 210 GetItem/s)',
        goal: '≥ 10/s',
        met: true,
      }),
      expect.objectContaining({
        metric: 'Local cloud: rate over the last 500 of 2000 customers ÷ over the first',
        value: '1.20 (25.0/s → 30.0/s)',
        met: true,
      }),
      expect.objectContaining({ value: '9.1 s (spawn → state file 10.2 s)', met: false }),
      expect.objectContaining({
        value: '18.4 s (spawn → state file 19.9 s)',
        goal: '–',
        met: null,
      }),
      expect.objectContaining({
        metric: expect.stringContaining('--watch'),
        value: expect.stringMatching(/^560 ms ± 173 /),
        goal: '≤ 1000 ms',
        met: true,
      }),
      expect.objectContaining({ value: '182 s (passed; 40 passed, 40 total)', met: false }),
    ]);
  });

  test('watch mode: judged on the median; not judged when it did not run, or in results from before it', () => {
    const slow = summaryRows({
      ...result,
      watch: {
        ...result.watch,
        savedToServed: measure([1100, 1200, 900], 'ms'),
      } as typeof result.watch,
    });
    expect(slow[4]).toMatchObject({ met: false });
    expect(
      summaryRows({ ...result, watch: { skipped: true, reason: 'it failed: x' } })[4],
    ).toMatchObject({
      value: 'not run (it failed: x)',
      met: null,
    });
    const { watch: _watch, ...before } = result;
    expect(summaryRows(before)[4]).toMatchObject({ value: 'not measured', met: null });
  });

  test('a quick run: one start, the suite skipped, neither judged', () => {
    const rows = summaryRows({
      ...result,
      starts: [{ assembly: 'synthesized', readySeconds: 18.4, wallSeconds: 19.9 }],
      e2e: { skipped: true, reason: 'a quick run' },
    });
    expect(rows[2]).toMatchObject({ value: 'not measured (one start only)', met: null });
    expect(rows[5]).toMatchObject({ value: 'not run (a quick run)', met: null });
    expect(render({ ...result, e2e: { skipped: true, reason: 'a quick run' } })).toContain(
      'not run (a quick run)',
    );
  });

  test('customers not all welcomed: no rate, and the scaling target is not met', () => {
    const rows = summaryRows({
      ...result,
      burst: { ...result.burst, welcomed: 190, seconds: null, perSecond: null, problems: ['x'] },
      scaling: { ...result.scaling, problems: ['10 created customer(s) not welcomed in time'] },
    });
    expect(rows[0]).toMatchObject({ met: false });
    expect(rows[0]?.value).toMatch(/^–/);
    expect(rows[1]).toMatchObject({ met: false });
  });
});
