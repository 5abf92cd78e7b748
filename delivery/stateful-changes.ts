import { Writable } from 'node:stream';
import { stripVTControlCharacters } from 'node:util';
import { formatDifferences, fullDiff, ResourceImpact } from '@aws-cdk/cloudformation-diff';

/**
 * What `npm run guard` refuses in a template change: a stateful resource replaced, destroyed
 * or orphaned (CloudFormation's impact, as `cdk diff` computes it), or a setting that keeps
 * data getting weaker. Pure: two templates in, problems and the printable diff out.
 */

/** Resources whose replacement loses data: the table, the buckets, the keys, the secret, queues. */
export const STATEFUL_TYPES: ReadonlySet<string> = new Set([
  'AWS::DynamoDB::Table',
  'AWS::DynamoDB::GlobalTable',
  'AWS::S3::Bucket',
  'AWS::KMS::Key',
  'AWS::SecretsManager::Secret',
  'AWS::SQS::Queue',
]);

/** The impacts that lose a stateful resource's contents, or leave it behind unmanaged. */
const REFUSED: ReadonlyMap<ResourceImpact, string> = new Map([
  [ResourceImpact.WILL_REPLACE, 'would be replaced'],
  [ResourceImpact.MAY_REPLACE, 'may be replaced'],
  [ResourceImpact.WILL_DESTROY, 'would be destroyed'],
  [ResourceImpact.WILL_ORPHAN, 'would be orphaned (removed from the stack, kept in the account)'],
]);

export interface CfnTemplate {
  readonly Resources?: Record<string, CfnResource>;
  readonly [key: string]: unknown;
}
export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
  readonly Metadata?: Record<string, unknown>;
}

export interface Problem {
  readonly logicalId: string;
  readonly type: string;
  /** The construct path, where the template's metadata has one. */
  readonly path?: string;
  readonly problem: string;
}

type Props = Record<string, unknown>;
const at = (props: Props | undefined, ...keys: string[]): unknown =>
  keys.reduce<unknown>(
    (value, key) =>
      typeof value === 'object' && value !== null ? (value as Props)[key] : undefined,
    props,
  );
/** A number the template states, or CloudFormation's default when it states none. */
const numberOr = (value: unknown, fallback: number): number | undefined => {
  if (value === undefined) return fallback;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
};

interface Setting {
  readonly types: readonly string[];
  readonly name: string;
  /** Why the change from `before` to `after` is weaker, or `undefined`. */
  weakened(before: Props | undefined, after: Props | undefined): string | undefined;
}

/** A retention in the template's unit that must not shrink (`absent`: what CloudFormation assumes). */
const retention = (
  types: readonly string[],
  keys: readonly string[],
  absent: number,
  unit: string,
): Setting => ({
  types,
  name: keys.join('.'),
  weakened: (before, after) => {
    const was = numberOr(at(before, ...keys), absent);
    const is = numberOr(at(after, ...keys), absent);
    return was !== undefined && is !== undefined && is < was
      ? `${keys.join('.')} shortened from ${was === Infinity ? 'forever' : `${was} ${unit}`} to ${is} ${unit}`
      : undefined;
  },
});

/** A protection that is on in `before` and must stay on. */
const protection = (types: readonly string[], keys: readonly string[], on: unknown): Setting => ({
  types,
  name: keys.join('.'),
  weakened: (before, after) =>
    at(before, ...keys) === on && at(after, ...keys) !== on
      ? `${keys.join('.')} turned off (was ${JSON.stringify(on)})`
      : undefined,
});

const SETTINGS: readonly Setting[] = [
  retention(['AWS::SQS::Queue'], ['MessageRetentionPeriod'], 345_600, 's'),
  // No RetentionInDays: the group keeps its events forever.
  retention(['AWS::Logs::LogGroup'], ['RetentionInDays'], Infinity, 'days'),
  retention(
    ['AWS::DynamoDB::Table'],
    ['PointInTimeRecoverySpecification', 'RecoveryPeriodInDays'],
    35,
    'days',
  ),
  retention(['AWS::KMS::Key'], ['PendingWindowInDays'], 30, 'days'),
  protection(['AWS::DynamoDB::Table'], ['DeletionProtectionEnabled'], true),
  protection(
    ['AWS::DynamoDB::Table'],
    ['PointInTimeRecoverySpecification', 'PointInTimeRecoveryEnabled'],
    true,
  ),
  protection(['AWS::S3::Bucket'], ['VersioningConfiguration', 'Status'], 'Enabled'),
];

/** CloudFormation's policies that keep a resource when the stack lets go of it. */
const KEEPS = new Set(['Retain', 'RetainExceptOnCreate', 'Snapshot']);

const pathOf = (resource: CfnResource | undefined): string | undefined => {
  const value = resource?.Metadata?.['aws:cdk:path'];
  return typeof value === 'string' ? value : undefined;
};

/** Every refused change from `before` to `after`, in logical-id order. */
export const statefulProblems = (before: CfnTemplate, after: CfnTemplate): Problem[] => {
  const problems: Problem[] = [];
  const diff = fullDiff(before, after);
  diff.resources.forEachDifference((logicalId, change) => {
    const old = before.Resources?.[logicalId];
    const now = after.Resources?.[logicalId];
    const type = now?.Type ?? old?.Type ?? 'unknown';
    const path = pathOf(now) ?? pathOf(old);
    const add = (problem: string) => problems.push({ logicalId, type, path, problem });
    const refused = change.changeImpact && REFUSED.get(change.changeImpact);
    if (refused && STATEFUL_TYPES.has(old?.Type ?? type)) add(refused);
    if (old === undefined || now === undefined) return;
    for (const setting of SETTINGS) {
      if (!setting.types.includes(type)) continue;
      const weaker = setting.weakened(old.Properties, now.Properties);
      if (weaker) add(weaker);
    }
    if (STATEFUL_TYPES.has(type)) {
      for (const policy of ['DeletionPolicy', 'UpdateReplacePolicy'] as const) {
        if (KEEPS.has(old[policy] ?? 'Delete') && !KEEPS.has(now[policy] ?? 'Delete')) {
          add(`${policy} ${old[policy]} became ${now[policy] ?? 'Delete (absent)'}`);
        }
      }
    }
  });
  return problems.sort((a, b) => a.logicalId.localeCompare(b.logicalId));
};

/** `cdk diff`'s rendering of the change, without colour. */
export const printableDiff = (before: CfnTemplate, after: CfnTemplate): string => {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  const paths: Record<string, string> = {};
  for (const template of [before, after]) {
    for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
      const path = pathOf(resource);
      if (path) paths[logicalId] = path;
    }
  }
  const diff = fullDiff(before, after);
  if (diff.isEmpty) return 'There were no differences\n';
  formatDifferences(stream, diff, paths);
  return stripVTControlCharacters(chunks.join(''));
};

export const describeProblem = (p: Problem): string =>
  `${p.type} ${p.logicalId}${p.path ? ` (${p.path})` : ''}: ${p.problem}`;
