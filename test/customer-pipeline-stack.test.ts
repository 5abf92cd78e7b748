import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { normaliseAssetHashes, synthPipeline } from './synth';

// Each stage as cdk.json has it, and dev with `-c ordering=perCustomer` (FIFO topic and queues).
describe.each([
  ['dev', '', {}],
  ['prod', '', {}],
  ['dev', ' with ordering=perCustomer', { ordering: 'perCustomer' }],
] as const)('CustomerPipeline-%s%s', (stage, _label, context) => {
  let synthesized: ReturnType<typeof synthPipeline>;
  beforeAll(() => {
    synthesized = synthPipeline(stage, { context });
  });

  test('matches the reviewed template snapshot', () => {
    expect(normaliseAssetHashes(synthesized.template.toJSON())).toMatchSnapshot();
  });

  test.each([
    ['AwsSolutions', () => new AwsSolutionsChecks()],
    ['Serverless', () => new ServerlessChecks()],
  ])('has no unacknowledged %s (cdk-nag) findings', (_pack, makePack) => {
    const report = makePack().validateScope(synthesized.stack);
    const findings = report.violations.flatMap((violation) =>
      violation.violatingResources.map(
        (resource) =>
          `${violation.ruleName} at ${resource.constructPath ?? resource.resourceLogicalId}`,
      ),
    );
    expect(findings).toEqual([]);
    expect(report.success).toBe(true);
  });

  test('carries the stage in the stack name', () => {
    expect(synthesized.stack.stackName).toBe(`CustomerPipeline-${stage}`);
  });
});
