import {
  type CfnTemplate,
  describeProblem,
  printableDiff,
  statefulProblems,
} from '../../delivery/stateful-changes';
import { synthPipeline } from '../synth';

// The guard's judgement on template pairs: prod as it is, and prod after one change each.

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> } & object>;
let prod: CfnTemplate;
beforeAll(() => {
  prod = synthPipeline('prod').template.toJSON() as CfnTemplate;
});

/** A deep copy of prod with `change` applied to its resources. */
const changed = (change: (resources: Resources) => void): CfnTemplate => {
  const copy = structuredClone(prod) as CfnTemplate & { Resources: Resources };
  change(copy.Resources);
  return copy;
};
const idOf = (template: CfnTemplate, type: string, pattern = /./): string => {
  const found = Object.entries(template.Resources ?? {}).find(
    ([id, r]) => r.Type === type && pattern.test(id),
  );
  if (found === undefined) throw new Error(`no ${type} matching ${pattern}`);
  return found[0];
};
const problemsOf = (after: CfnTemplate) => statefulProblems(prod, after).map(describeProblem);

test('a template against itself passes, and the diff says there is nothing', () => {
  expect(statefulProblems(prod, structuredClone(prod))).toEqual([]);
  expect(printableDiff(prod, structuredClone(prod))).toBe('There were no differences\n');
});

test('a harmless change passes, and its diff is printed', () => {
  const fn = idOf(prod, 'AWS::Lambda::Function', /^ArchiveConsumer/);
  const after = changed((r) => {
    (r[fn] as { Properties: Record<string, unknown> }).Properties.MemorySize = 512;
  });
  expect(statefulProblems(prod, after)).toEqual([]);
  expect(printableDiff(prod, after)).toMatch(/\[~\] AWS::Lambda::Function .*MemorySize/s);
});

test('a renamed table logical id orphans the retained table (prod) and is refused', () => {
  const table = idOf(prod, 'AWS::DynamoDB::Table');
  const after = changed((r) => {
    r.RenamedTable = r[table] as Resources[string];
    delete r[table];
  });
  expect(problemsOf(after)).toEqual([
    `AWS::DynamoDB::Table ${table}: would be orphaned (removed from the stack, kept in the account)`,
  ]);
});

test('a renamed table logical id in a stage that does not retain it destroys it, and is refused', () => {
  const dev = synthPipeline('dev').template.toJSON() as CfnTemplate & { Resources: Resources };
  const table = idOf(dev, 'AWS::DynamoDB::Table');
  const after = structuredClone(dev);
  after.Resources.RenamedTable = after.Resources[table] as Resources[string];
  delete after.Resources[table];
  expect(statefulProblems(dev, after).map((p) => [p.logicalId, p.problem])).toEqual([
    [table, 'would be destroyed'],
  ]);
});

test('a changed key schema replaces the table, and is refused', () => {
  const table = idOf(prod, 'AWS::DynamoDB::Table');
  const after = changed((r) => {
    const props = (r[table] as { Properties: Record<string, unknown> }).Properties;
    props.KeySchema = [{ AttributeName: 'pk', KeyType: 'HASH' }];
  });
  expect(problemsOf(after)).toEqual([`AWS::DynamoDB::Table ${table}: would be replaced`]);
});

test('a shortened queue retention is refused, and a longer one passes', () => {
  const queue = idOf(prod, 'AWS::SQS::Queue', /^ArchiveConsumerDeadLetterQueue/);
  const was = Number(prod.Resources?.[queue]?.Properties?.MessageRetentionPeriod);
  const withRetention = (seconds: number) =>
    changed((r) => {
      (r[queue] as { Properties: Record<string, unknown> }).Properties.MessageRetentionPeriod =
        seconds;
    });
  expect(problemsOf(withRetention(86_400))).toEqual([
    `AWS::SQS::Queue ${queue}: MessageRetentionPeriod shortened from ${was} s to 86400 s`,
  ]);
  expect(problemsOf(withRetention(was + 60))).toEqual([]);
});

test('deletion protection, point-in-time recovery and the retain policy may not weaken', () => {
  const table = idOf(prod, 'AWS::DynamoDB::Table');
  const after = changed((r) => {
    const resource = r[table] as {
      Properties: Record<string, unknown>;
      DeletionPolicy?: string;
    };
    resource.Properties.DeletionProtectionEnabled = false;
    resource.Properties.PointInTimeRecoverySpecification = { PointInTimeRecoveryEnabled: false };
    resource.DeletionPolicy = 'Delete';
  });
  expect(statefulProblems(prod, after).map((p) => p.problem)).toEqual(
    expect.arrayContaining([
      'DeletionProtectionEnabled turned off (was true)',
      'PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled turned off (was true)',
      'DeletionPolicy Retain became Delete',
    ]),
  );
});

test('a log group that kept its events forever may not start expiring them', () => {
  const before: CfnTemplate = {
    Resources: { Logs: { Type: 'AWS::Logs::LogGroup', Properties: {} } },
  };
  const after: CfnTemplate = {
    Resources: { Logs: { Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 30 } } },
  };
  expect(statefulProblems(before, after).map((p) => p.problem)).toEqual([
    'RetentionInDays shortened from forever to 30 days',
  ]);
});

test('switching ordering replaces every consumer queue and DLQ, and is refused', () => {
  const standard = synthPipeline('dev').template.toJSON() as CfnTemplate;
  const fifo = synthPipeline('dev', { context: { ordering: 'perCustomer' } }).template.toJSON();
  const problems = statefulProblems(standard, fifo as CfnTemplate);
  expect(new Set(problems.map((p) => `${p.type} ${p.problem}`))).toEqual(
    new Set(['AWS::SQS::Queue would be replaced']),
  );
  // Four consumers, each with a queue, a queue DLQ and a subscription DLQ.
  expect(problems).toHaveLength(12);
});

test('renaming the provider’s secret replaces it, and is refused', () => {
  const secret = idOf(prod, 'AWS::SecretsManager::Secret');
  const unnamed = changed((r) => {
    delete (r[secret] as { Properties: Record<string, unknown> }).Properties.Name;
  });
  expect(statefulProblems(unnamed, prod).map(describeProblem)).toEqual([
    `AWS::SecretsManager::Secret ${secret}: would be replaced`,
  ]);
});
