import { isDeepStrictEqual } from 'node:util';
import type { CfnTemplate } from './model';

/** One resource's difference between two syntheses of a stack. */
export interface ResourceChange {
  readonly logicalId: string;
  readonly type: string;
  readonly kind: 'added' | 'removed' | 'changed';
  /** The top-level properties that differ (`Type` when the type itself did); none for added or removed. */
  readonly properties: readonly string[];
}

/** CDK's analytics resource, and resource metadata: neither changes what runs. */
const IGNORED_TYPES = new Set(['AWS::CDK::Metadata']);

/** What differs between two templates of a stack, resource by resource; metadata and DependsOn aside. */
export const diffTemplates = (before: CfnTemplate, after: CfnTemplate): ResourceChange[] => {
  const changes: ResourceChange[] = [];
  const ids = new Set([...Object.keys(before.Resources), ...Object.keys(after.Resources)]);
  for (const logicalId of ids) {
    const old = before.Resources[logicalId];
    const next = after.Resources[logicalId];
    const type = next?.Type ?? old?.Type ?? '';
    if (IGNORED_TYPES.has(type)) continue;
    if (old === undefined) {
      changes.push({ logicalId, type, kind: 'added', properties: [] });
    } else if (next === undefined) {
      changes.push({ logicalId, type, kind: 'removed', properties: [] });
    } else if (old.Type !== next.Type) {
      changes.push({ logicalId, type, kind: 'changed', properties: ['Type'] });
    } else {
      const a = old.Properties ?? {};
      const b = next.Properties ?? {};
      const properties = [...new Set([...Object.keys(a), ...Object.keys(b)])]
        .filter((name) => !isDeepStrictEqual(a[name], b[name]))
        .sort();
      // DependsOn is an order of creation, which a running cloud is past.
      if (properties.length > 0) changes.push({ logicalId, type, kind: 'changed', properties });
    }
  }
  return changes;
};

/**
 * The properties the local cloud applies to a running function or mapping, as Lambda's
 * UpdateFunctionCode / UpdateFunctionConfiguration / UpdateEventSourceMapping would; a
 * change to anything else (a role, a source, a table, a queue, a policy) needs a restart.
 */
const IN_PLACE: Readonly<Record<string, ReadonlySet<string>>> = {
  'AWS::Lambda::Function': new Set([
    'Code',
    'Description',
    'Environment',
    'Handler',
    'MemorySize',
    'Timeout',
  ]),
  'AWS::Lambda::EventSourceMapping': new Set([
    'BatchSize',
    'BisectBatchOnFunctionError',
    'FilterCriteria',
    'FunctionResponseTypes',
    'MaximumBatchingWindowInSeconds',
    'MaximumRecordAgeInSeconds',
    'MaximumRetryAttempts',
  ]),
};

/**
 * What a deploy that changes a function's code does besides: it publishes a new version (a
 * new logical id: CDK's `currentVersion` hashes the code into it) and points the alias at it.
 * The version replaced is retained, as CDK's `currentVersion` asks, and stays invocable.
 */
const VERSIONING: Readonly<Record<string, (change: ResourceChange) => boolean>> = {
  'AWS::Lambda::Version': (change) => change.kind !== 'changed',
  'AWS::Lambda::Alias': (change) =>
    change.kind === 'changed' &&
    change.properties.every((name) => name === 'FunctionVersion' || name === 'Description'),
};

/** Whether a running local cloud can apply `change` without a restart. */
export const appliesInPlace = (change: ResourceChange): boolean => {
  const versioning = VERSIONING[change.type];
  if (versioning !== undefined) return versioning(change);
  const allowed = IN_PLACE[change.type];
  return (
    change.kind === 'changed' &&
    allowed !== undefined &&
    change.properties.every((name) => allowed.has(name))
  );
};

/** An alarm's properties the local cloud reads: its actions' topics, checked at start-up. */
const ALARM_ACTIONS = new Set(['AlarmActions', 'OKActions', 'InsufficientDataActions']);

/**
 * Whether `change` leaves what runs locally as it is: a dashboard, CodeDeploy (not emulated:
 * an alias runs the current code, there is no traffic to shift), an alarm's metric, dimensions
 * or threshold (alarms are not evaluated; a new version changes their dimensions).
 */
export const hasNoLocalEffect = (change: ResourceChange): boolean =>
  change.type === 'AWS::CloudWatch::Dashboard' ||
  change.type.startsWith('AWS::CodeDeploy::') ||
  (change.type === 'AWS::CloudWatch::Alarm' &&
    change.kind === 'changed' &&
    !change.properties.some((name) => ALARM_ACTIONS.has(name)));
