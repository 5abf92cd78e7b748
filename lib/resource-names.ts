import type { CfnResource } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * One name per thing, carried in the template. Each function, queue, table, topic and
 * bucket the tools need is marked here with the one name it goes by everywhere (the
 * function's folder under `lambda/`, its service name, its queues), and every tool finds
 * it by that name through `findResource`: nobody parses construct paths. A construct id
 * can never be renamed (the resource would be replaced), but the name can follow the code.
 */
export const RESOURCE_METADATA_KEY = 'customer-pipeline:resource';

export type ResourceRole =
  | 'function'
  | 'queue'
  | 'dead-letter-queue'
  | 'subscription-dead-letter-queue'
  | 'failure-bucket'
  | 'bucket'
  | 'table'
  | 'topic'
  | 'secret';

export interface ResourceName {
  /** `welcome`, `stream-publisher`, `customers`: one name, shared by a function and its queues. */
  readonly name: string;
  readonly role: ResourceRole;
}

/** Marks the resource behind `construct` (its default child) with its name and role. */
export const markResource = (construct: IConstruct, name: string, role: ResourceRole): void => {
  const resource = (construct.node.defaultChild ?? construct) as CfnResource;
  resource.addMetadata(RESOURCE_METADATA_KEY, { name, role } satisfies ResourceName);
};

/** What a template, deployed or synthesized, holds of each resource. */
interface TemplateLike {
  readonly Resources: Readonly<
    Record<string, { readonly Type: string; readonly Metadata?: Readonly<Record<string, unknown>> }>
  >;
}

const isResourceName = (value: unknown): value is ResourceName =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as { name?: unknown }).name === 'string' &&
  typeof (value as { role?: unknown }).role === 'string';

/** The name and role of a template resource, if it has one. */
export const nameOf = (
  resource: TemplateLike['Resources'][string] | undefined,
): ResourceName | undefined => {
  const value = resource?.Metadata?.[RESOURCE_METADATA_KEY];
  return isResourceName(value) ? value : undefined;
};

/** Every named resource of `template`, by logical id. */
export const namedResources = (template: TemplateLike): ReadonlyMap<string, ResourceName> =>
  new Map(
    Object.entries(template.Resources).flatMap(([logicalId, resource]) => {
      const name = nameOf(resource);
      return name === undefined ? [] : [[logicalId, name] as const];
    }),
  );

/** The logical ids of the resources with `role`, by their name. */
export const resourcesWithRole = (
  template: TemplateLike,
  role: ResourceRole,
): ReadonlyMap<string, string> =>
  new Map(
    [...namedResources(template)]
      .filter(([, name]) => name.role === role)
      .map(([logicalId, name]) => [name.name, logicalId]),
  );

/** The logical id of the resource named `name` with `role`; throws naming what the template has. */
export const findResource = (template: TemplateLike, name: string, role: ResourceRole): string => {
  const found = resourcesWithRole(template, role).get(name);
  if (found !== undefined) return found;
  const known = [...namedResources(template).values()].map((n) => `${n.name} (${n.role})`);
  throw new Error(
    `the template has no ${role} named ${name}; it has: ${known.join(', ') || 'no named resources'}`,
  );
};

/** The logical id a `Ref` or `Fn::GetAtt` points at, or `undefined` for anything else. */
export const referencedId = (value: unknown): string | undefined => {
  if (typeof value !== 'object' || value === null) return undefined;
  const { Ref: ref, 'Fn::GetAtt': getAtt } = value as { Ref?: unknown; 'Fn::GetAtt'?: unknown };
  if (typeof ref === 'string') return ref;
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  return undefined;
};

/** Every `Ref` and `Fn::GetAtt` in `value`, depth first. */
const referencesIn = (value: unknown): string[] => {
  if (typeof value !== 'object' || value === null) return [];
  const own = referencedId(value);
  if (own !== undefined) return [own];
  return Object.values(value).flatMap(referencesIn);
};

const INVOCABLE_TYPES = new Set(['AWS::Lambda::Alias', 'AWS::Lambda::Version']);

/**
 * The logical id of the function a mapping's `FunctionName` or an integration's URI invokes: the
 * function itself (`Ref`, `Fn::GetAtt`), or through one of its versions or aliases (their `Ref`,
 * or the `<name>:live` CDK joins from the alias's ARN). `undefined` when it is no function of
 * `resources`.
 */
export const invokedFunctionId = (
  resources: Readonly<Record<string, { readonly Type: string; readonly Properties?: unknown }>>,
  value: unknown,
): string | undefined => {
  for (const id of referencesIn(value)) {
    const resource = resources[id];
    if (resource?.Type === 'AWS::Lambda::Function') return id;
    if (resource !== undefined && INVOCABLE_TYPES.has(resource.Type)) {
      return invokedFunctionId(
        resources,
        (resource.Properties as { FunctionName?: unknown } | undefined)?.FunctionName,
      );
    }
  }
  return undefined;
};
