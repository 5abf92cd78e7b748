import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { STAGES, type Stage } from '../lib/config';
import { synthPipeline } from './synth';
import { resourcesOfType } from './template-queries';

/** CloudWatch's list price of a standard-resolution alarm, per month (us-east-1). */
const ALARM_USD_PER_MONTH = 0.1;

const ROOT = path.join(__dirname, '..');

/**
 * Link targets that another change of the same issue is writing: a link to one is
 * listed as a todo while the file is missing, and checked like any other once it exists.
 */
const PENDING: Readonly<Record<string, string>> = {
  'packages/local-cloud/README.md': "the local cloud's own README, written with its package",
};

interface Page {
  /** Repository-relative, with forward slashes: `README.md`, `docs/operations.md`. */
  readonly file: string;
  readonly text: string;
}

const readPage = (file: string): Page => ({
  file,
  text: readFileSync(path.join(ROOT, file), 'utf8'),
});

/** The README and every page under docs/. */
const PAGES: readonly Page[] = [
  readPage('README.md'),
  ...readdirSync(path.join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => readPage(`docs/${name}`)),
];
const README = PAGES[0] as Page;

/** The text outside fenced code blocks, where a `[x](y)` or a `#` line is markdown. */
const prose = (text: string): string => text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, '');

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const slugOf = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

/** Every anchor the headings of `text` give, a repeated one suffixed `-1`, `-2` as GitHub does. */
const anchorsOf = (text: string): Set<string> => {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const [, heading = ''] of prose(text).matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const slug = slugOf(heading);
    const count = seen.get(slug) ?? 0;
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
    seen.set(slug, count + 1);
  }
  return anchors;
};

interface Link {
  readonly from: string;
  /** As written: `docs/operations.md#alarms`, `#try-it`. */
  readonly href: string;
  /** The repository-relative file it points to. */
  readonly target: string;
  readonly anchor: string | undefined;
}

/** Every relative link of `page`, outside code; URLs with a scheme are not ours to check. */
const relativeLinksOf = (page: Page): Link[] =>
  [...prose(page.text).matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)]
    .map(([, href = '']) => href)
    .filter((href) => !/^([a-z][a-z0-9+.-]*:|\/\/)/i.test(href))
    .map((href) => {
      const [file = '', anchor] = href.split('#', 2);
      const target =
        file === ''
          ? page.file
          : path.posix.normalize(path.posix.join(path.posix.dirname(page.file), file));
      return { from: page.file, href, target, anchor: anchor || undefined };
    });

/** Each link once per page: the README's table repeats links its sections already gave. */
const LINKS = PAGES.flatMap((page) =>
  relativeLinksOf(page).filter(
    (link, i, all) => all.findIndex((other) => other.href === link.href) === i,
  ),
);
const exists = (target: string) => existsSync(path.join(ROOT, target));
const pendingLinks = LINKS.filter((link) => link.target in PENDING && !exists(link.target));
const checkedLinks = LINKS.filter((link) => !pendingLinks.includes(link));

describe('the README and docs/', () => {
  test('the README stays under 150 lines', () => {
    expect(README.text.trimEnd().split('\n').length).toBeLessThan(150);
  });

  test.each(checkedLinks.map((link) => [link.from, link.href, link] as const))(
    '%s links to %s, which resolves (file and heading)',
    (_from, _href, link) => {
      expect({ href: link.href, exists: exists(link.target) }).toEqual({
        href: link.href,
        exists: true,
      });
      if (link.anchor !== undefined && link.target.endsWith('.md')) {
        const anchors = anchorsOf(readFileSync(path.join(ROOT, link.target), 'utf8'));
        expect([...anchors]).toContain(link.anchor);
      }
    },
  );

  for (const link of pendingLinks) {
    test.todo(`${link.from} links to ${link.href}: pending, ${PENDING[link.target]}`);
  }

  test.each(PAGES.slice(1).map((page) => page.file))(
    'the README links to %s, one click away',
    (file) => {
      const fromReadme = LINKS.filter((link) => link.from === README.file).map((l) => l.target);
      expect(fromReadme).toContain(file);
    },
  );

  test('docs/benchmarks.md holds the one block `npm run bench` rewrites, and the README none', () => {
    const markers = (text: string) =>
      [...text.matchAll(/<!-- bench:results:(start|end) -->/g)].map(([, which]) => which);
    const benchmarks = PAGES.find((page) => page.file === 'docs/benchmarks.md');
    expect(markers(benchmarks?.text ?? '')).toEqual(['start', 'end']);
    expect(markers(README.text)).toEqual([]);
  });
});

describe('the idle cost line', () => {
  const paragraphs = PAGES.flatMap((page) =>
    page.text
      .split('\n\n')
      .filter((paragraph) => paragraph.startsWith('Idle cost, per stage'))
      .map((paragraph) => ({ file: page.file, paragraph })),
  );
  const [, devCount = '', devUsd = '', prodCount = '', prodUsd = ''] =
    /(\d+) alarms in dev\s+\(\$(\d+\.\d\d)\) and (\d+) in prod\s+\(\$(\d+\.\d\d)\b/.exec(
      paragraphs[0]?.paragraph ?? '',
    ) ?? [];
  const stated: Record<Stage, { count: string; usd: string }> = {
    dev: { count: devCount, usd: devUsd },
    prod: { count: prodCount, usd: prodUsd },
  };
  /** Every "<n> alarms" the README and docs/ state, wherever it is. */
  const statedCounts = PAGES.flatMap((page) =>
    [...page.text.matchAll(/\b(\d+)\s+alarms\b/g)].map(([, n]) => ({
      file: page.file,
      n: Number(n),
    })),
  );

  test('is written once, in the README or docs/, with an alarm count and its price per stage', () => {
    expect(paragraphs).toHaveLength(1);
    for (const stage of STAGES) {
      expect(stated[stage]).toEqual({
        count: expect.stringMatching(/^\d+$/),
        usd: expect.stringMatching(/^\d+\.\d\d$/),
      });
    }
  });

  test.each(STAGES)('counts the alarms the %s template holds, at $0.10 each', (stage: Stage) => {
    const alarms = Object.keys(
      resourcesOfType(synthPipeline(stage).template, 'AWS::CloudWatch::Alarm'),
    ).length;
    expect(Number(stated[stage].count)).toBe(alarms);
    expect(Number(stated[stage].usd)).toBeCloseTo(alarms * ALARM_USD_PER_MONTH, 2);
    // No other page may state another count ("<n> alarms" is the dev count's form).
    if (stage === 'dev') {
      expect(statedCounts).toEqual(statedCounts.map(({ file }) => ({ file, n: alarms })));
    }
  });
});
