import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';

/**
 * The checks `npm test` runs on `.github/workflows/*.yml`: GitHub's own parser and schema
 * (`@actions/workflow-parser`: unknown or missing keys, broken `${{ }}` expressions, bad
 * `needs`), then the rules this project deploys by, which no schema knows.
 */

export interface WorkflowFile {
  /** Shown in every problem, e.g. `deploy.yml`. */
  readonly name: string;
  readonly content: string;
}

/** What GitHub would refuse: the parser's and the converter's errors, as GitHub words them. */
export const parserErrors = async (file: WorkflowFile): Promise<string[]> => {
  // ESM only, and this project is CommonJS: loaded by import(), which tsx and Jest both serve.
  const { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } = await import(
    '@actions/workflow-parser'
  );
  const parsed = parseWorkflow(file, new NoOperationTraceWriter());
  const errors = parsed.context.errors.getErrors().map((e) => e.message);
  if (errors.length > 0 || parsed.value === undefined) return errors;
  const template = await convertWorkflowTemplate(parsed.context, parsed.value);
  return (template.errors ?? []).map((e) => e.Message);
};

/** Inputs and variables that would put a long-lived AWS key in a workflow. */
const ACCESS_KEY_NAMES = [
  'aws-access-key-id',
  'aws-secret-access-key',
  'aws-session-token',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
];
/** Node versions that move under CI's feet. */
const FLOATING_NODE = /^(lts\/.*|latest|current|node|\*|\d+\.x)$/i;
/** A role to assume, given by a repository or environment variable and nothing else. */
const ROLE_FROM_VARIABLE = /^\$\{\{\s*vars\.[A-Za-z_][A-Za-z0-9_]*\s*\}\}$/;

type Mapping = Record<string, unknown>;
const asMapping = (value: unknown): Mapping =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Mapping) : {};

/** The workflow's jobs, each with its steps and its (job, else workflow) permissions. */
export const jobsOf = (content: string) => {
  const workflow = asMapping(parseYaml(content));
  return Object.entries(asMapping(workflow.jobs)).map(([id, value]) => {
    const job = asMapping(value);
    return {
      id,
      job,
      permissions: job.permissions ?? workflow.permissions,
      steps: (Array.isArray(job.steps) ? job.steps : []).map(asMapping),
    };
  });
};

/** This project's rules, each problem naming its file and job. */
export const policyProblems = (file: WorkflowFile): string[] => {
  const problems: string[] = [];
  for (const name of ACCESS_KEY_NAMES) {
    if (file.content.includes(name)) {
      problems.push(`${file.name}: mentions ${name}: AWS credentials come from OIDC only`);
    }
  }
  for (const { id, permissions, steps } of jobsOf(file.content)) {
    const where = `${file.name}, job ${id}`;
    for (const step of steps) {
      const uses = typeof step.uses === 'string' ? step.uses : undefined;
      if (uses === undefined) continue;
      const ref = uses.split('@')[1];
      if (!uses.startsWith('./') && (ref === undefined || /^(main|master|HEAD)$/.test(ref))) {
        problems.push(`${where}: ${uses} is not pinned to a release or a commit`);
      }
      const withs = asMapping(step.with);
      if (uses.startsWith('actions/setup-node@')) {
        const version = withs['node-version'];
        if (version === undefined && withs['node-version-file'] === undefined) {
          problems.push(`${where}: setup-node without a node-version or node-version-file`);
        }
        if (version !== undefined && FLOATING_NODE.test(String(version))) {
          problems.push(`${where}: node-version ${String(version)} floats: pin it`);
        }
      }
      if (uses.startsWith('aws-actions/configure-aws-credentials@')) {
        if (!ROLE_FROM_VARIABLE.test(String(withs['role-to-assume'] ?? ''))) {
          problems.push(`${where}: role-to-assume must be \${{ vars.<NAME> }}`);
        }
        if (asMapping(permissions)['id-token'] !== 'write') {
          problems.push(`${where}: assumes a role by OIDC without permissions id-token: write`);
        }
      }
    }
  }
  return problems;
};

/** Every problem of one workflow file. */
export const checkWorkflow = async (file: WorkflowFile): Promise<string[]> => {
  const errors = await parserErrors(file);
  // A file GitHub cannot read has no rules to check yet.
  return errors.length > 0 ? errors : policyProblems(file);
};

export const WORKFLOWS_DIR = path.resolve(__dirname, '..', '.github', 'workflows');

/** The repository's workflow files. */
export const readWorkflows = (dir = WORKFLOWS_DIR): WorkflowFile[] =>
  fs
    .readdirSync(dir)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => ({ name, content: fs.readFileSync(path.join(dir, name), 'utf8') }));
