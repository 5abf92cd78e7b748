/** A figure measured over repeated runs: its median and its spread, in one unit. */
export interface Measured {
  readonly unit: string;
  readonly runs: number;
  readonly median: number;
  readonly p95: number;
  readonly min: number;
  readonly max: number;
  /** Interquartile range: the spread of the middle half of the runs. */
  readonly iqr: number;
}

const quantile = (sorted: readonly number[], q: number): number => {
  if (sorted.length === 0) throw new Error('no samples');
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  const a = sorted[lower] as number;
  const b = sorted[upper] as number;
  return a + (b - a) * (position - lower);
};

export const measure = (samples: readonly number[], unit: string): Measured => {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    unit,
    runs: sorted.length,
    median: quantile(sorted, 0.5),
    p95: quantile(sorted, 0.95),
    min: sorted[0] as number,
    max: sorted[sorted.length - 1] as number,
    iqr: quantile(sorted, 0.75) - quantile(sorted, 0.25),
  };
};

/** `123 ms ± 4 (IQR, n=20)` */
export const formatMeasured = (m: Measured, digits = 0): string =>
  `${m.median.toFixed(digits)} ${m.unit} ± ${(m.iqr / 2).toFixed(digits)} (IQR/2, n=${m.runs})`;

/** Ratio of two medians from the same run, e.g. `0.42×`. */
export const ratio = (value: Measured, baseline: Measured): number =>
  value.median / baseline.median;
