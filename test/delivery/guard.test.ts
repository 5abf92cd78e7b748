import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runGuard, summaryOf } from '../../delivery/guard';
import type { Problem } from '../../delivery/stateful-changes';

const ROOT = path.resolve(__dirname, '..', '..');

const guard = async (...argv: string[]) => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runGuard(argv, {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    env: process.env,
    cwd: ROOT,
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
};

test('passes against HEAD: synthesizes prod in a worktree of HEAD and here, writes the summary, leaves no worktree', async () => {
  const summary = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'guard-summary-')), 'summary.md');
  const worktreesBefore = fs.readdirSync(path.join(ROOT, '.git')).includes('worktrees')
    ? fs.readdirSync(path.join(ROOT, '.git', 'worktrees'))
    : [];

  const { code, out, err } = await guard('HEAD', '--stage', 'prod', '--summary', summary);

  expect(err).toBe('');
  expect(code).toBe(0);
  expect(out).toContain('== CustomerPipeline-prod: HEAD → working tree');
  expect(out).toContain(
    'guard: no stateful resource replaced, destroyed or orphaned; no data setting weaker',
  );
  expect(fs.readFileSync(summary, 'utf8')).toMatch(
    /^## Stateful-resource guard against `HEAD`\n\n✅ /,
  );
  const worktreesAfter = fs.existsSync(path.join(ROOT, '.git', 'worktrees'))
    ? fs.readdirSync(path.join(ROOT, '.git', 'worktrees'))
    : [];
  expect(worktreesAfter).toEqual(worktreesBefore);
}, 240_000);

test.each([
  [[], /guard: no base ref/],
  [['HEAD', '--stage', 'staging'], /unknown stage "staging" \(dev, prod\)/],
  [['HEAD', 'main'], /unexpected argument "main"/],
])('a usage error exits 2 and says why: %j', async (argv, message) => {
  const { code, err } = await guard(...argv);
  expect(code).toBe(2);
  expect(err).toMatch(message);
  expect(err).toContain('usage: npm run guard');
});

test('a ref git does not know exits 2, naming it', async () => {
  const { code, err } = await guard('no-such-ref-anywhere', '--stage', 'dev');
  expect(code).toBe(2);
  expect(err).toMatch(/git rev-parse .*no-such-ref-anywhere/);
});

describe('the job summary', () => {
  const problem: Problem = {
    logicalId: 'CustomerTable627C24D6',
    type: 'AWS::DynamoDB::Table',
    path: 'CustomerPipeline-prod/CustomerTable/Resource',
    problem: 'would be replaced',
  };
  const results = [{ stage: 'prod' as const, problems: [problem], diff: '[~] the diff\n' }];

  test('refuses, naming each change and the label that overrides it, with the diff folded', () => {
    const text = summaryOf('origin/main', results, false);
    expect(text).toContain('❌ refused');
    expect(text).toContain('`allow-stateful-change` label');
    expect(text).toContain(
      '- **AWS::DynamoDB::Table CustomerTable627C24D6 (CustomerPipeline-prod/CustomerTable/Resource): would be replaced**',
    );
    expect(text).toContain('<details><summary>template diff</summary>\n\n```\n[~] the diff\n```');
  });

  test('says when the label allowed what it refuses', () => {
    expect(summaryOf('origin/main', results, true)).toContain(
      '⚠️ refused changes, allowed by the `allow-stateful-change` label',
    );
  });
});
