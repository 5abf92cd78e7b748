import { measure } from '../stats';

/** Latency may grow by at most this much per second of a run: the pipeline keeps within 10% of the offered rate. */
export const MAX_GROWTH_MS_PER_SECOND = 100;
/** …and the last quarter of customers may wait at most this much (or twice) longer than the first. */
export const MAX_RISE_MS = 1000;

export interface Trend {
  /** Medians of the first and last quarter of customers, in send order. */
  readonly first: number;
  readonly last: number;
  /** Least-squares slope of latency over send time: how fast the pipeline falls behind. */
  readonly growthMsPerSecond: number;
  readonly stable: boolean;
}

/**
 * A pipeline that completes c customers/s while r are offered falls behind by
 * (r/c − 1) seconds each second: the latency's slope over send time says it.
 */
export const latencyTrend = (
  points: readonly { readonly sentAt: number; readonly latencyMs: number }[],
): Trend => {
  const latencies = points.map((p) => p.latencyMs);
  const quarter = Math.max(1, Math.floor(latencies.length / 4));
  const first = measure(latencies.slice(0, quarter), 'ms').median;
  const last = measure(latencies.slice(-quarter), 'ms').median;
  const xs = points.map((p) => p.sentAt / 1000);
  const meanX = xs.reduce((a, b) => a + b, 0) / xs.length;
  const meanY = latencies.reduce((a, b) => a + b, 0) / latencies.length;
  let covariance = 0;
  let variance = 0;
  for (const [i, x] of xs.entries()) {
    covariance += (x - meanX) * ((latencies[i] ?? 0) - meanY);
    variance += (x - meanX) ** 2;
  }
  const growthMsPerSecond = variance === 0 ? 0 : covariance / variance;
  // The slope catches a backlog building; the rise, one that built slowly over a long run.
  const rise = last - first;
  const stable =
    rise <= MAX_RISE_MS || (rise <= first && growthMsPerSecond <= MAX_GROWTH_MS_PER_SECOND);
  return { first, last, growthMsPerSecond, stable };
};
