import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  checkWorkflow,
  jobsOf,
  parserErrors,
  policyProblems,
  readWorkflows,
  type WorkflowFile,
} from '../../delivery/workflows';

const ROOT = path.resolve(__dirname, '..', '..');
const workflows = readWorkflows();
const named = (name: string): WorkflowFile => {
  const file = workflows.find((w) => w.name === name);
  if (file === undefined) throw new Error(`no .github/workflows/${name}`);
  return file;
};
const jobNamed = (file: string, id: string) => {
  const job = jobsOf(named(file).content).find((j) => j.id === id);
  if (job === undefined) throw new Error(`${file} has no job ${id}`);
  return job;
};
const runs = (file: string, id: string): string[] =>
  jobNamed(file, id).steps.flatMap((s) => (typeof s.run === 'string' ? [s.run] : []));

/** A workflow of one job whose steps are `steps` (YAML, indented for the job). */
const oneJob = (steps: string, extra = '') => ({
  name: 'test.yml',
  content: `on: push\n${extra}jobs:\n  build:\n    runs-on: ubuntu-24.04\n    steps:\n${steps}`,
});

describe('the repository’s workflows', () => {
  test('are ci.yml and deploy.yml', () => {
    expect(workflows.map((w) => w.name)).toEqual(['ci.yml', 'deploy.yml']);
  });

  test.each(workflows.map((w) => [w.name, w] as const))(
    '%s parses as GitHub parses it and keeps every rule',
    async (_name, file) => {
      expect(await checkWorkflow(file)).toEqual([]);
    },
  );

  test('ci runs .ci/run, the same steps as the CI of this repository, on the Node of .nvmrc', () => {
    expect(runs('ci.yml', 'test')).toContain('bash .ci/run');
    const setupNode = jobNamed('ci.yml', 'test').steps.find((s) =>
      String(s.uses).startsWith('actions/setup-node@'),
    );
    expect(setupNode?.with).toMatchObject({ 'node-version-file': '.nvmrc', cache: 'npm' });
    // Pinned, and one the engines field allows; the SDK's releases after January 2027 need 22.
    expect(fs.readFileSync(path.join(ROOT, '.nvmrc'), 'utf8').trim()).toMatch(/^(22|24)$/);
  });

  test('ci installs the local cloud’s Python from the file that pins moto', () => {
    expect(runs('ci.yml', 'test')).toContain(
      'python -m pip install -r packages/local-cloud/python/requirements.txt',
    );
    expect(
      fs.readFileSync(path.join(ROOT, 'packages/local-cloud/python/requirements.txt'), 'utf8'),
    ).toMatch(/^moto\[server\]==5\.2\.1$/m);
  });

  test('the guard runs on pull requests against the base branch, overridden by a label only', () => {
    const guard = jobNamed('ci.yml', 'guard');
    expect(guard.job.if).toBe("github.event_name == 'pull_request'");
    const script = runs('ci.yml', 'guard').join('\n');
    expect(script).toContain('npm run guard -- "${args[@]}"');
    expect(script).toContain('args=("origin/$BASE_REF" --summary "$GITHUB_STEP_SUMMARY")');
    const step = guard.steps.find((s) => typeof s.run === 'string' && s.run.includes('guard'));
    expect(step?.env).toMatchObject({
      ALLOW: "${{ contains(github.event.pull_request.labels.*.name, 'allow-stateful-change') }}",
    });
  });

  test('deploy: dev after ci passed on a push to main, without an environment (the role trusts main)', () => {
    const dev = jobNamed('deploy.yml', 'dev');
    expect(dev.job.environment).toBeUndefined();
    expect(String(dev.job.if)).toContain("github.event.workflow_run.conclusion == 'success'");
    expect(String(dev.job.if)).toContain("github.event.workflow_run.event == 'push'");
    expect(runs('deploy.yml', 'dev')).toEqual([
      'npm ci',
      'npx cdk deploy --require-approval never --no-notices -c stage=dev',
    ]);
  });

  test('deploy: prod from a v* tag or a manual run on main, behind the prod environment', () => {
    const prod = jobNamed('deploy.yml', 'prod');
    expect(prod.job.environment).toBe('prod');
    expect(String(prod.job.if)).toContain("startsWith(github.ref, 'refs/tags/v')");
    expect(String(prod.job.if)).toContain("github.ref == 'refs/heads/main'");
    expect(runs('deploy.yml', 'prod')).toEqual([
      'npm ci',
      'npx cdk deploy --require-approval never --no-notices -c stage=prod',
    ]);
  });

  test('only the deploy jobs may ask for an OIDC token, each assuming the one role variable', () => {
    const tokenJobs = workflows.flatMap((w) =>
      jobsOf(w.content)
        .filter((j) => (j.permissions as Record<string, unknown>)?.['id-token'] === 'write')
        .map((j) => `${w.name} ${j.id}`),
    );
    expect(tokenJobs).toEqual(['deploy.yml dev', 'deploy.yml prod']);
    for (const id of ['dev', 'prod']) {
      const step = jobNamed('deploy.yml', id).steps.find((s) =>
        String(s.uses).startsWith('aws-actions/configure-aws-credentials@'),
      );
      expect(step?.with).toMatchObject({ 'role-to-assume': '${{ vars.DEPLOY_ROLE_ARN }}' });
    }
  });
});

describe("GitHub's parser", () => {
  test('refuses an unknown key', async () => {
    const errors = await parserErrors(oneJob('      - run: echo\n        wiht: {}\n'));
    expect(errors).toEqual([expect.stringContaining("Unexpected value 'wiht'")]);
  });

  test('refuses a job without runs-on', async () => {
    const errors = await parserErrors({
      name: 'test.yml',
      content: 'on: push\njobs:\n  build:\n    steps:\n      - run: echo\n',
    });
    expect(errors.join('\n')).toMatch(/runs-on/);
  });

  test('refuses a broken expression', async () => {
    const errors = await parserErrors(oneJob('      - run: echo ${{ github.sha == }}\n'));
    expect(errors.join('\n')).toMatch(/Unexpected end of expression|Unexpected symbol/);
  });

  test('refuses needs on a job that does not exist', async () => {
    const errors = await parserErrors({
      name: 'test.yml',
      content:
        'on: push\njobs:\n  build:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo\n' +
        '  deploy:\n    runs-on: ubuntu-24.04\n    needs: tests\n    steps:\n      - run: echo\n',
    });
    expect(errors.join('\n')).toMatch(/tests/);
  });
});

describe('the rules no schema knows', () => {
  test('an access key, as an input or a variable, is refused', () => {
    const withKeys = oneJob(
      '      - uses: aws-actions/configure-aws-credentials@v4\n        with:\n          aws-access-key-id: ${{ secrets.KEY }}\n          aws-region: us-east-1\n',
    );
    expect(policyProblems(withKeys)).toEqual(
      expect.arrayContaining([
        'test.yml: mentions aws-access-key-id: AWS credentials come from OIDC only',
      ]),
    );
    expect(policyProblems(oneJob('      - run: echo $AWS_SECRET_ACCESS_KEY\n'))).toEqual([
      'test.yml: mentions AWS_SECRET_ACCESS_KEY: AWS credentials come from OIDC only',
    ]);
  });

  test('a role must come from a variable, and its job must be allowed an OIDC token', () => {
    const step = (role: string) =>
      `      - uses: aws-actions/configure-aws-credentials@v4\n        with:\n          role-to-assume: ${role}\n          aws-region: us-east-1\n`;
    expect(policyProblems(oneJob(step('arn:aws:iam::123456789012:role/deploy')))).toEqual([
      'test.yml, job build: role-to-assume must be ${{ vars.<NAME> }}',
      'test.yml, job build: assumes a role by OIDC without permissions id-token: write',
    ]);
    expect(
      policyProblems(
        oneJob(step('${{ vars.DEPLOY_ROLE_ARN }}'), 'permissions:\n  id-token: write\n'),
      ),
    ).toEqual([]);
  });

  test('a floating Node and an unpinned action are refused', () => {
    expect(
      policyProblems(
        oneJob(
          '      - uses: actions/setup-node@main\n        with:\n          node-version: lts/*\n',
        ),
      ),
    ).toEqual([
      'test.yml, job build: actions/setup-node@main is not pinned to a release or a commit',
      'test.yml, job build: node-version lts/* floats: pin it',
    ]);
    expect(
      policyProblems(
        oneJob('      - uses: actions/setup-node@v4\n        with:\n          node-version: 22\n'),
      ),
    ).toEqual([]);
  });
});
