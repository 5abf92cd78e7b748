import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  type BenchRun,
  commandOf,
  END_MARKER,
  replaceBetweenMarkers,
  resultsMarkdown,
  START_MARKER,
} from '../../bench/report';
import { checkOutputs, outputsOf, SECTIONS, writeOutputs } from '../../bench/run';
import { runSections, type Section, sectionsToRun } from '../../bench/section';

const section = <T>(name: string, result: T, needs?: Section<unknown>[]): Section<T> => ({
  name,
  ...(needs && { needs }),
  run: async () => result,
  render: (r) => `## ${name}: ${JSON.stringify(r)}`,
  summaryRows: () => [{ metric: name, value: JSON.stringify(result), goal: '–', met: null }],
});

describe('choosing the sections', () => {
  const a = section('a', 1);
  const b = section('b', 2);
  const c = section('c', 3, [b]);

  test('every section in order without --only; one and what it needs with it', () => {
    expect(sectionsToRun([a, b, c], []).map((s) => s.name)).toEqual(['a', 'b', 'c']);
    expect(sectionsToRun([a, b, c], ['c']).map((s) => s.name)).toEqual(['b', 'c']);
    expect(sectionsToRun([a, b, c], ['a']).map((s) => s.name)).toEqual(['a']);
  });

  test('refuses a name no section has, and names those there are', () => {
    expect(() => sectionsToRun([a, b], ['publisher'])).toThrow(
      'no section named publisher; the sections are a, b',
    );
  });

  test('the bench runs every section under its results.json key, cost and ordering after the pipeline', () => {
    expect(SECTIONS.map((s) => s.name)).toEqual([
      'coldStart',
      'avatar',
      'synthTime',
      'pipeline',
      'localCloud',
      'cost',
      'ordering',
    ]);
    expect(sectionsToRun(SECTIONS, ['cost']).map((s) => s.name)).toEqual(['pipeline', 'cost']);
    expect(sectionsToRun(SECTIONS, ['ordering']).map((s) => s.name)).toEqual([
      'pipeline',
      'ordering',
    ]);
  });
});

describe('running the sections', () => {
  test('hands a section the results of those it needs, and writes each up', async () => {
    const measured = section('measured', { calls: 22 });
    const derived: Section<number> = {
      ...section('derived', 0, [measured]),
      run: async ({ resultOf }) => resultOf(measured).calls * 2,
    };
    const lines: string[] = [];
    const outcomes = await runSections([measured, derived], {
      quick: true,
      log: (line) => lines.push(line),
    });
    expect(outcomes.map((o) => [o.name, o.result])).toEqual([
      ['measured', { calls: 22 }],
      ['derived', 44],
    ]);
    expect(outcomes[1]?.markdown).toBe('## derived: 44');
    expect(lines).toEqual(['== measured', '== derived']);
  });

  test('a section that reads one that has not run fails, naming it', async () => {
    const missing = section('missing', 1);
    const reader: Section<number> = {
      ...section('reader', 0),
      run: async ({ resultOf }) => resultOf(missing),
    };
    await expect(runSections([reader], { quick: true, log: () => {} })).rejects.toThrow(
      'missing has not run yet',
    );
  });
});

const DOCS_PAGE = `# Benchmarks\n\nIntro.\n\n${START_MARKER}\nold table\n${END_MARKER}\n\nAfter.\n`;

const benchRun = async (options: { quick: boolean; only?: string[] }): Promise<BenchRun> => ({
  startedAt: new Date('2026-12-01T10:00:00Z'),
  finishedAt: new Date('2026-12-01T10:10:00Z'),
  quick: options.quick,
  only: options.only ?? [],
  machine: { cpus: 2, cpuModel: 'Test CPU', memoryGiB: 8, node: 'v24.0.0', platform: 'linux x64' },
  outcomes: await runSections([section('coldStart', { ms: 99 })], { quick: true, log: () => {} }),
});

describe('where a run writes', () => {
  let root: string;
  const committed = ['bench/results.json', 'bench/RESULTS.md', 'docs/benchmarks.md'];
  const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-outputs-'));
    fs.mkdirSync(path.join(root, 'bench'));
    fs.mkdirSync(path.join(root, 'docs'));
    fs.writeFileSync(path.join(root, 'bench/results.json'), '{}\n');
    fs.writeFileSync(path.join(root, 'bench/RESULTS.md'), '# committed\n');
    fs.writeFileSync(path.join(root, 'docs/benchmarks.md'), DOCS_PAGE);
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  test.each([
    ['a quick run', { quick: true }],
    ['one section', { quick: false, only: ['coldStart'] }],
  ])('%s writes to .bench/ and leaves every committed file as it was', async (_, options) => {
    const before = committed.map(read);
    const run = await benchRun(options);
    const outputs = outputsOf(root, run);
    expect(outputs.docs).toBeUndefined();
    expect(writeOutputs(root, outputs, run)).toEqual({
      changed: ['.bench/results.json', '.bench/RESULTS.md'],
      unchanged: [],
    });
    expect(committed.map(read)).toEqual(before);
    expect(JSON.parse(read('.bench/results.json')).results).toEqual({ coldStart: { ms: 99 } });
  });

  test('a full run writes the results and the table between the docs page’s markers', async () => {
    const run = await benchRun({ quick: false });
    const outputs = outputsOf(root, run);
    expect(writeOutputs(root, outputs, run).changed).toEqual(committed);
    const page = read('docs/benchmarks.md');
    expect(page).toMatch(/^# Benchmarks\n\nIntro\.\n\n<!-- bench:results:start -->\n\| metric \|/);
    expect(page).toContain('| coldStart | {"ms":99} | – | – |');
    expect(page).toContain('details in [bench/RESULTS.md](../bench/RESULTS.md)._\n');
    expect(page).toMatch(/<!-- bench:results:end -->\n\nAfter\.\n$/);
    expect(page).not.toContain('old table');
    // The same run again changes nothing, and says so.
    expect(writeOutputs(root, outputs, run)).toEqual({ changed: [], unchanged: committed });
  });

  test('a full run fails before it starts when the docs page has no markers, or no page', () => {
    const outputs = outputsOf(root, { quick: false, only: [] });
    fs.writeFileSync(path.join(root, 'docs/benchmarks.md'), '# Benchmarks\n');
    expect(() => checkOutputs(root, outputs)).toThrow(
      `docs/benchmarks.md has no ${START_MARKER} … ${END_MARKER} block`,
    );
    fs.rmSync(path.join(root, 'docs/benchmarks.md'));
    expect(() => checkOutputs(root, outputs)).toThrow('docs/benchmarks.md does not exist');
  });

  test('a missing marker writes nothing at all', async () => {
    fs.writeFileSync(path.join(root, 'docs/benchmarks.md'), `${START_MARKER}\n`);
    const run = await benchRun({ quick: false });
    expect(() => writeOutputs(root, outputsOf(root, run), run)).toThrow(/has no/);
    expect(read('bench/RESULTS.md')).toBe('# committed\n');
  });
});

describe('the documents', () => {
  test('RESULTS.md says how it was made, and warns of a quick run', async () => {
    const quick = await benchRun({ quick: true, only: ['coldStart'] });
    expect(commandOf(quick)).toBe('npm run bench -- --quick --only coldStart');
    expect(resultsMarkdown(quick)).toContain('**Quick mode: too few repetitions to trust');
    const full = await benchRun({ quick: false });
    expect(resultsMarkdown(full)).toContain('Generated by `npm run bench` on 2026-12-01T10:10:00');
    expect(resultsMarkdown(full)).toContain('\n\n## coldStart: {"ms":99}\n');
    expect(resultsMarkdown(full)).not.toContain('Quick mode');
  });

  test('replaces only what stands between the markers', () => {
    expect(replaceBetweenMarkers(`a\n${START_MARKER}\nx\n${END_MARKER}\nb`, 'new', 'f.md')).toBe(
      `a\n${START_MARKER}\nnew\n${END_MARKER}\nb`,
    );
    expect(() => replaceBetweenMarkers(`${END_MARKER}\n${START_MARKER}`, 'new', 'f.md')).toThrow(
      'f.md has no',
    );
  });
});
