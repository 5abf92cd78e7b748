import { formatMeasured, measure, ratio } from '../../bench/stats';

describe('benchmark statistics', () => {
  test('the median and quartiles of an odd and an even sample', () => {
    expect(measure([5, 1, 3], 'ms')).toMatchObject({ median: 3, min: 1, max: 5, runs: 3, iqr: 2 });
    expect(measure([4, 1, 3, 2], 'ms')).toMatchObject({ median: 2.5, iqr: 1.5 });
  });

  test('p95 interpolates between the two nearest runs', () => {
    const samples = Array.from({ length: 21 }, (_, i) => i * 10);
    expect(measure(samples, 'ms').p95).toBe(190);
  });

  test('refuses to summarise no samples', () => {
    expect(() => measure([], 'ms')).toThrow('no samples');
  });

  test('formats a figure with its spread and count, and compares medians', () => {
    const fast = measure([10, 12, 14], 'ms');
    const slow = measure([20, 24, 28], 'ms');
    expect(formatMeasured(fast)).toBe('12 ms ± 1 (IQR/2, n=3)');
    expect(ratio(fast, slow)).toBe(0.5);
  });
});
