import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { avatar } from './avatar';
import { coldStart } from './cold-start';
import { cost } from './cost';
import { localCloud } from './local-cloud';
import { ordering } from './ordering';
import { pipeline } from './pipeline';
import {
  type BenchRun,
  docsTable,
  type Machine,
  replaceBetweenMarkers,
  resultsJson,
  resultsMarkdown,
  summaryTable,
} from './report';
import { runSections, type Section, sectionsToRun } from './section';
import { synthTime } from './synth-time';

/**
 * `npm run bench`: every benchmark section, one after the other on this machine. Only a
 * full run writes the committed results (bench/results.json, bench/RESULTS.md and the
 * summary table in docs/benchmarks.md); a quick or partial one writes its own to .bench/,
 * which git ignores. A benchmark, not a test: CI never runs it.
 */

export const SECTIONS: readonly Section<unknown>[] = [
  coldStart,
  avatar,
  synthTime,
  pipeline,
  localCloud,
  cost,
  ordering,
];

const ROOT = path.resolve(__dirname, '..');

const USAGE = `usage: npm run bench [-- [--quick] [--only <section>]...]

  --quick           too few repetitions to trust, for checking the harness; writes to .bench/ only
  --only <section>  run one section (and the sections it needs); writes to .bench/ only
                    sections: ${SECTIONS.map((s) => s.name).join(', ')}

A full run (no option) writes bench/results.json, bench/RESULTS.md and the summary table
in docs/benchmarks.md, between its <!-- bench:results:start --> and end markers.`;

export interface Outputs {
  readonly resultsJson: string;
  readonly resultsMarkdown: string;
  /** The page whose markers take the summary table: a full run's only. */
  readonly docs?: string;
}

/** Where a run writes: the committed results from a full run only, anything less to .bench/. */
export const outputsOf = (
  root: string,
  run: { readonly quick: boolean; readonly only: readonly string[] },
): Outputs => {
  if (run.quick || run.only.length > 0) {
    const dir = path.join(root, '.bench');
    return {
      resultsJson: path.join(dir, 'results.json'),
      resultsMarkdown: path.join(dir, 'RESULTS.md'),
    };
  }
  return {
    resultsJson: path.join(root, 'bench', 'results.json'),
    resultsMarkdown: path.join(root, 'bench', 'RESULTS.md'),
    docs: path.join(root, 'docs', 'benchmarks.md'),
  };
};

const readDocs = (root: string, docs: string): string => {
  const shown = path.relative(root, docs);
  if (!fs.existsSync(docs)) {
    throw new Error(`${shown} does not exist: a full run writes its summary table there`);
  }
  return fs.readFileSync(docs, 'utf8');
};

/** Fails at once, not after the run, where the summary table would have nowhere to go. */
export const checkOutputs = (root: string, outputs: Outputs): void => {
  if (outputs.docs === undefined) return;
  replaceBetweenMarkers(readDocs(root, outputs.docs), '', path.relative(root, outputs.docs));
};

/**
 * Writes the run's documents, every one prepared before any is written, and returns
 * them relative to `root`: those it changed and those that already said the same.
 */
export const writeOutputs = (
  root: string,
  outputs: Outputs,
  run: BenchRun,
): { changed: string[]; unchanged: string[] } => {
  const documents: [string, string][] = [
    [outputs.resultsJson, resultsJson(run)],
    [outputs.resultsMarkdown, resultsMarkdown(run)],
  ];
  if (outputs.docs !== undefined) {
    const details = path.relative(path.dirname(outputs.docs), outputs.resultsMarkdown);
    const page = readDocs(root, outputs.docs);
    documents.push([
      outputs.docs,
      replaceBetweenMarkers(page, docsTable(run, details), path.relative(root, outputs.docs)),
    ]);
  }
  const changed: string[] = [];
  const unchanged: string[] = [];
  for (const [file, content] of documents) {
    const shown = path.relative(root, file);
    if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === content) {
      unchanged.push(shown);
      continue;
    }
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
    changed.push(shown);
  }
  return { changed, unchanged };
};

const machineOf = (): Machine => ({
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  platform: `${os.platform()} ${os.arch()}`,
});

const main = async (): Promise<void> => {
  let quick: boolean;
  let only: string[];
  let sections: Section<unknown>[];
  try {
    const { values } = parseArgs({
      options: { quick: { type: 'boolean' }, only: { type: 'string', multiple: true } },
    });
    quick = values.quick === true;
    only = values.only ?? [];
    sections = sectionsToRun(SECTIONS, only);
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  const log = (line: string) => console.log(line);
  const outputs = outputsOf(ROOT, { quick, only });
  checkOutputs(ROOT, outputs);
  log(
    `sections: ${sections.map((s) => s.name).join(', ')}${quick ? ' (quick)' : ''}; ` +
      `results to ${path.relative(ROOT, path.dirname(outputs.resultsJson))}/`,
  );

  const startedAt = new Date();
  const outcomes = await runSections(sections, { quick, log });
  const run: BenchRun = {
    startedAt,
    finishedAt: new Date(),
    quick,
    only,
    machine: machineOf(),
    outcomes,
  };
  const { changed, unchanged } = writeOutputs(ROOT, outputs, run);
  log(`\n${summaryTable(outcomes.flatMap((o) => o.rows))}\n`);
  log(`changed: ${changed.join(', ') || 'nothing'}`);
  if (unchanged.length > 0) log(`unchanged: ${unchanged.join(', ')}`);
  if (outputs.docs === undefined) {
    log(
      'a quick or partial run: no committed file was written (the full run writes bench/ and docs/)',
    );
  }
};

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  });
}
