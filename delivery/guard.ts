/**
 * `npm run guard -- <base ref>`: synthesizes every stage at `<base ref>` (a git worktree of its
 * own) and in the working tree, and compares each pair of templates as `cdk diff` does. It
 * fails when a stateful resource would be replaced, destroyed or orphaned, or a setting that
 * keeps data would weaken (`stateful-changes.ts`), unless told `--allow-stateful-change`; it
 * prints the diff either way. Offline: no AWS account, no deployed stack.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { STAGES, type Stage } from '../lib/config';
import { type CommandIo, parseCommandArgs, runAsCommand, UsageError } from '../ops/command';
import {
  type CfnTemplate,
  describeProblem,
  type Problem,
  printableDiff,
  statefulProblems,
} from './stateful-changes';

export const USAGE = `usage: npm run guard -- <base ref> [--stage dev|prod]... [--summary <file>] [--allow-stateful-change]

  <base ref>                 what the working tree is compared with (a branch, tag or commit)
  --stage <stage>            compare this stage only (repeatable; default: every stage)
  --summary <file>           also append the result as Markdown (the job summary in CI)
  --allow-stateful-change    report refused changes, but exit 0 (CI: the allow-stateful-change label)`;

const ROOT = path.resolve(__dirname, '..');

/** Runs a process to its end; rejects with its output when it fails. */
const run = (command: string, args: readonly string[], cwd: string): Promise<void> =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true', CDK_DISABLE_CLI_TELEMETRY: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`${command} ${args.join(' ')} (in ${cwd}) exited ${code}:\n${output}`)),
    );
  });

const git = (args: readonly string[], cwd = ROOT): string => {
  const result = spawnSync('git', args, { cwd, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`git ${args.join(' ')}: ${result.stderr.trim()}`);
  return result.stdout.trim();
};

/** `stage`'s template as the tree at `root` synthesizes it, with its own cdk.json. */
const synth = async (root: string, stage: Stage, out: string): Promise<CfnTemplate> => {
  const cdk = path.join(ROOT, 'node_modules', '.bin', 'cdk');
  await run(cdk, ['synth', '-q', '--no-notices', '-c', `stage=${stage}`, '-o', out], root);
  const file = path.join(out, `CustomerPipeline-${stage}.template.json`);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as CfnTemplate;
};

/**
 * A worktree of `ref` that can synthesize: this tree's node_modules when both lock the same
 * packages, else its own clean install.
 */
const baseTree = async (ref: string, dir: string, io: CommandIo): Promise<string> => {
  const commit = git(['rev-parse', '--verify', `${ref}^{commit}`]);
  const tree = path.join(dir, 'base');
  git(['worktree', 'add', '--detach', tree, commit]);
  const lock = (root: string) => fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8');
  if (lock(tree) === lock(ROOT)) {
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(tree, 'node_modules'), 'dir');
  } else {
    io.out(`${ref} locks other packages: npm ci in its worktree …`);
    await run('npm', ['ci', '--no-audit', '--no-fund'], tree);
  }
  return tree;
};

export interface StageResult {
  readonly stage: Stage;
  readonly problems: readonly Problem[];
  readonly diff: string;
}

/** The result as Markdown, for a CI job summary. */
export const summaryOf = (base: string, results: readonly StageResult[], allowed: boolean) => {
  const refused = results.some((r) => r.problems.length > 0);
  const verdict = !refused
    ? '✅ no stateful resource is replaced, destroyed or orphaned, and no data setting weakens'
    : allowed
      ? '⚠️ refused changes, allowed by the `allow-stateful-change` label'
      : '❌ refused: read the changes below; a reviewer who accepts them adds the `allow-stateful-change` label';
  const sections = results.map(({ stage, problems, diff }) =>
    [
      `### ${stage}`,
      '',
      ...problems.map((p) => `- **${describeProblem(p)}**`),
      ...(problems.length > 0 ? [''] : []),
      '<details><summary>template diff</summary>',
      '',
      '```',
      diff.trimEnd(),
      '```',
      '',
      '</details>',
    ].join('\n'),
  );
  return [`## Stateful-resource guard against \`${base}\``, '', verdict, '', ...sections, ''].join(
    '\n',
  );
};

/** Runs the guard; resolves to the exit code (0 pass, 1 refused, 2 usage or failure). */
export const runGuard = async (argv: readonly string[], io: CommandIo): Promise<number> => {
  let dir: string | undefined;
  let tree: string | undefined;
  try {
    const { values, positionals } = parseCommandArgs(argv, {
      stage: { type: 'string', multiple: true },
      summary: { type: 'string' },
      'allow-stateful-change': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      io.out(USAGE);
      return 0;
    }
    const [base, ...extra] = positionals;
    if (base === undefined) throw new UsageError('no base ref');
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
    const stages = (values.stage ?? [...STAGES]).map((stage) => {
      if (!STAGES.includes(stage as Stage)) {
        throw new UsageError(`unknown stage "${stage}" (${STAGES.join(', ')})`);
      }
      return stage as Stage;
    });
    const allowed = values['allow-stateful-change'] === true;

    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'customer-pipeline-guard-'));
    io.out(`synthesizing ${stages.join(' and ')} at ${base} and in the working tree …`);
    tree = await baseTree(base, dir, io);
    const results: StageResult[] = [];
    for (const stage of stages) {
      const out = (side: string) => path.join(dir ?? '', `${side}-${stage}.out`);
      const [before, after] = await Promise.all([
        synth(tree, stage, out('base')),
        synth(io.cwd, stage, out('head')),
      ]);
      results.push({
        stage,
        problems: statefulProblems(before, after),
        diff: printableDiff(before, after),
      });
    }
    for (const { stage, problems, diff } of results) {
      io.out(`\n== CustomerPipeline-${stage}: ${base} → working tree\n${diff.trimEnd()}`);
      for (const problem of problems) io.err(`refused: ${describeProblem(problem)}`);
    }
    if (values.summary) fs.appendFileSync(values.summary, summaryOf(base, results, allowed));
    const refused = results.reduce((n, r) => n + r.problems.length, 0);
    if (refused === 0) {
      io.out(
        '\nguard: no stateful resource replaced, destroyed or orphaned; no data setting weaker',
      );
      return 0;
    }
    if (allowed) {
      io.out(`\nguard: ${refused} refused change(s), allowed by --allow-stateful-change`);
      return 0;
    }
    io.err(
      `\nguard: ${refused} refused change(s). If they are meant (docs/operations.md says how to ` +
        'drain first), rerun with --allow-stateful-change; in CI, label the pull request allow-stateful-change',
    );
    return 1;
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`guard: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    io.err(`guard: ${(error as Error).message}`);
    return 2;
  } finally {
    if (tree) spawnSync('git', ['worktree', 'remove', '--force', tree], { cwd: ROOT });
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
};

if (require.main === module) runAsCommand(runGuard);
