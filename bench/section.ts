/**
 * What every benchmark section is to `npm run bench` (bench/run.ts): `run` measures
 * and returns a result, the part of bench/results.json under the section's name;
 * `render` (its part of bench/RESULTS.md) and `summaryRows` (its rows of the summary
 * table) write that result up, from it alone, in the section's report module.
 */
export interface Section<Result> {
  /** Its key in bench/results.json and its name for `--only`. */
  readonly name: string;
  /** The sections whose results `run` reads: they run before it, and with it under `--only`. */
  readonly needs?: readonly Section<unknown>[];
  run(context: SectionContext): Promise<Result>;
  render(result: Result): string;
  summaryRows(result: Result): readonly SummaryRow[];
}

export interface SectionContext {
  /** Too few repetitions to trust: for checking the harness only. */
  readonly quick: boolean;
  readonly log: (line: string) => void;
  /** The result of a section this one `needs`. */
  resultOf<Result>(section: Section<Result>): Result;
}

/** One row of the summary table. */
export interface SummaryRow {
  readonly metric: string;
  readonly value: string;
  readonly goal: string;
  /** `null` where the metric has no goal. */
  readonly met: boolean | null;
}

/** `wanted` in the order given, each after the sections it needs; every name must be known. */
export const sectionsToRun = (
  all: readonly Section<unknown>[],
  wanted: readonly string[],
): Section<unknown>[] => {
  const unknown = wanted.filter((name) => !all.some((section) => section.name === name));
  if (unknown.length > 0) {
    throw new Error(
      `no section named ${unknown.join(', ')}; the sections are ${all.map((s) => s.name).join(', ')}`,
    );
  }
  const chosen = new Set<Section<unknown>>();
  const add = (section: Section<unknown>) => {
    for (const need of section.needs ?? []) add(need);
    chosen.add(section);
  };
  for (const section of all) if (wanted.length === 0 || wanted.includes(section.name)) add(section);
  return [...chosen];
};

export interface SectionOutcome {
  readonly name: string;
  readonly result: unknown;
  readonly markdown: string;
  readonly rows: readonly SummaryRow[];
}

/** Runs `sections` one after the other, each given the results of those before it. */
export const runSections = async (
  sections: readonly Section<unknown>[],
  options: { readonly quick: boolean; readonly log: (line: string) => void },
): Promise<SectionOutcome[]> => {
  const results = new Map<Section<unknown>, unknown>();
  const context: SectionContext = {
    ...options,
    resultOf: <Result>(section: Section<Result>): Result => {
      if (!results.has(section)) throw new Error(`${section.name} has not run yet`);
      return results.get(section) as Result;
    },
  };
  const outcomes: SectionOutcome[] = [];
  for (const section of sections) {
    options.log(`== ${section.name}`);
    const result = await section.run(context);
    results.set(section, result);
    outcomes.push({
      name: section.name,
      result,
      markdown: section.render(result),
      rows: section.summaryRows(result),
    });
  }
  return outcomes;
};
