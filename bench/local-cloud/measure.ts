import type { AssemblyHow, Scaling } from './result';

// The section's arithmetic and parsing, apart from anything that runs.

/**
 * The rate over the first `window` completions (from `startMs`, the first POST) against
 * the rate over the last `window`: above 1 the cloud sped up as it filled, below 1 it
 * slowed. null without two windows of completions.
 */
export const scalingOf = (
  startMs: number,
  completionsMs: readonly number[],
  window: number,
): Scaling | null => {
  const sorted = [...completionsMs].sort((a, b) => a - b);
  const n = sorted.length;
  if (window < 1 || n < 2 * window) return null;
  const at = (k: number) => sorted[k - 1] as number;
  const firstPerSecond = (window * 1000) / (at(window) - startMs);
  const lastPerSecond = (window * 1000) / (at(n) - at(n - window));
  return { window, firstPerSecond, lastPerSecond, ratio: lastPerSecond / firstPerSecond };
};

/** The last `ready in N s (assembly …)` line of a local cloud's output. */
export const parseReadyLine = (
  text: string,
): { readonly seconds: number; readonly assembly: AssemblyHow } | null => {
  const matches = [
    ...text.matchAll(/ready in (\d+(?:\.\d+)?) s \(assembly (synthesized|reused|given)\)/g),
  ];
  const last = matches[matches.length - 1];
  if (last === undefined) return null;
  return { seconds: Number(last[1]), assembly: last[2] as AssemblyHow };
};

/** Jest's `Tests:` summary line, e.g. `Tests:       12 passed, 12 total`. */
export const jestTestsLine = (output: string): string | null => {
  const matches = [...output.matchAll(/^Tests:\s+(.+)$/gm)];
  return matches[matches.length - 1]?.[1]?.trim() ?? null;
};
