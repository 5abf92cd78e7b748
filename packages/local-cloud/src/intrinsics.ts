import { createHash } from 'node:crypto';
import type { PhysicalResource } from './model';

/**
 * Resolves CloudFormation intrinsic functions against the resources the local cloud
 * provisioned. Anything it cannot resolve throws, naming what and where: a value left
 * half-resolved would surface much later as a wrong ARN in some function's environment.
 */

export interface ResolveContext {
  readonly resources: Readonly<Record<string, PhysicalResource>>;
  readonly accountId: string;
  readonly region: string;
  /** @default 'aws' */
  readonly partition?: string;
  readonly stackName: string;
  /** @default 'amazonaws.com' */
  readonly urlSuffix?: string;
  /** Template parameter values, by parameter name. */
  readonly parameters?: Readonly<Record<string, string>>;
  /** Evaluated template conditions, by condition name. */
  readonly conditions?: Readonly<Record<string, boolean>>;
}

export class UnresolvableReference extends Error {
  constructor(
    /** What could not be resolved: a logical id, `id.Attribute`, a function or a condition. */
    readonly reference: string,
    reason: string,
    /** Where in the resolved value, e.g. `Properties.Environment.Variables.TABLE_NAME`. */
    readonly path: string,
  ) {
    super(`cannot resolve ${reference}${path === '' ? '' : ` at ${path}`}: ${reason}`);
    this.name = 'UnresolvableReference';
  }
}

/** What `{ Ref: 'AWS::NoValue' }` resolves to until its container drops it. */
const NO_VALUE: unique symbol = Symbol('AWS::NoValue');

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The one key of `{ 'Fn::X': … }` / `{ Ref: … }` / `{ Condition: 'Name' }`, or undefined. */
const intrinsicName = (value: Json): string | undefined => {
  const keys = Object.keys(value);
  if (keys.length !== 1) return undefined;
  const [key] = keys;
  if (key === undefined) return undefined;
  if (key === 'Ref' || key.startsWith('Fn::')) return key;
  // `Condition` is also an IAM statement key, but there it is never alone with a string.
  if (key === 'Condition' && typeof value[key] === 'string') return key;
  return undefined;
};

const describe = (value: unknown): string => {
  const json = JSON.stringify(value);
  return json === undefined ? String(value) : json.length > 120 ? `${json.slice(0, 117)}...` : json;
};

const join = (path: string, key: string | number): string =>
  typeof key === 'number' ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`;

class Resolver {
  constructor(private readonly context: ResolveContext) {}

  value(value: unknown, path: string): unknown {
    if (Array.isArray(value)) {
      return value
        .map((item, index) => this.value(item, join(path, index)))
        .filter((item) => item !== NO_VALUE);
    }
    if (!isObject(value)) return value;
    const name = intrinsicName(value);
    if (name !== undefined) return this.intrinsic(name, value[name], path);
    const resolved: Json = {};
    for (const [key, item] of Object.entries(value)) {
      const result = this.value(item, join(path, key));
      if (result !== NO_VALUE) resolved[key] = result;
    }
    return resolved;
  }

  private intrinsic(name: string, argument: unknown, path: string): unknown {
    const at = join(path, name);
    switch (name) {
      case 'Ref':
        return this.ref(this.string(argument, at, 'Ref'), at);
      case 'Fn::GetAtt':
        return this.getAtt(argument, at);
      case 'Fn::Join':
        return this.join(argument, at);
      case 'Fn::Sub':
        return this.sub(argument, at);
      case 'Fn::Select':
        return this.select(argument, at);
      case 'Fn::Split': {
        const [delimiter, source] = this.arguments(argument, 2, at, name);
        const separator = this.string(delimiter, join(at, 0), name);
        if (separator === '') throw new UnresolvableReference(name, 'empty delimiter', at);
        return this.string(source, join(at, 1), name).split(separator);
      }
      case 'Fn::If': {
        const [condition, whenTrue, whenFalse] = this.arguments(argument, 3, at, name);
        const chosen = this.condition(this.string(condition, join(at, 0), name), at);
        return chosen ? this.value(whenTrue, join(at, 1)) : this.value(whenFalse, join(at, 2));
      }
      case 'Condition':
        return this.condition(this.string(argument, at, name), at);
      case 'Fn::Equals': {
        const [left, right] = this.arguments(argument, 2, at, name);
        return (
          JSON.stringify(this.value(left, join(at, 0))) ===
          JSON.stringify(this.value(right, join(at, 1)))
        );
      }
      case 'Fn::Not': {
        const [operand] = this.arguments(argument, 1, at, name);
        return !this.boolean(operand, join(at, 0), name);
      }
      case 'Fn::And':
      case 'Fn::Or': {
        if (!Array.isArray(argument) || argument.length < 2) {
          throw new UnresolvableReference(name, 'expects a list of at least two conditions', at);
        }
        const values = argument.map((operand, index) =>
          this.boolean(operand, join(at, index), name),
        );
        return name === 'Fn::And' ? values.every(Boolean) : values.some(Boolean);
      }
      case 'Fn::Base64':
        return Buffer.from(this.string(argument, at, name), 'utf8').toString('base64');
      case 'Fn::GetAZs': {
        const requested = this.value(argument, at);
        if (typeof requested !== 'string') {
          throw new UnresolvableReference(name, `expects a region, got ${describe(requested)}`, at);
        }
        const region = requested === '' ? this.context.region : requested;
        return [`${region}a`, `${region}b`, `${region}c`];
      }
      case 'Fn::ImportValue':
        throw new UnresolvableReference(
          `Fn::ImportValue ${describe(argument)}`,
          'cross-stack references are not supported by the local cloud',
          at,
        );
      default:
        throw new UnresolvableReference(name, 'this intrinsic function is not supported', at);
    }
  }

  /** A resolved argument that must be a string. */
  private string(value: unknown, path: string, what: string): string {
    const resolved = this.value(value, path);
    if (typeof resolved === 'string') return resolved;
    throw new UnresolvableReference(what, `expected a string, got ${describe(resolved)}`, path);
  }

  private boolean(value: unknown, path: string, what: string): boolean {
    const resolved = this.value(value, path);
    if (typeof resolved === 'boolean') return resolved;
    throw new UnresolvableReference(what, `expected a condition, got ${describe(resolved)}`, path);
  }

  private arguments(argument: unknown, count: number, path: string, what: string): unknown[] {
    if (Array.isArray(argument) && argument.length === count) return argument;
    throw new UnresolvableReference(
      what,
      `expects a list of ${count} arguments, got ${describe(argument)}`,
      path,
    );
  }

  private condition(name: string, path: string): boolean {
    const value = this.context.conditions?.[name];
    if (value === undefined) {
      throw new UnresolvableReference(`Condition ${name}`, 'no such condition', path);
    }
    return value;
  }

  private ref(name: string, path: string): string | typeof NO_VALUE {
    const { context } = this;
    const partition = context.partition ?? 'aws';
    switch (name) {
      case 'AWS::AccountId':
        return context.accountId;
      case 'AWS::Region':
        return context.region;
      case 'AWS::Partition':
        return partition;
      case 'AWS::StackName':
        return context.stackName;
      case 'AWS::StackId':
        return stackId(context);
      case 'AWS::URLSuffix':
        return context.urlSuffix ?? 'amazonaws.com';
      case 'AWS::NoValue':
        return NO_VALUE;
    }
    const resource = context.resources[name];
    if (resource !== undefined) return resource.ref;
    const parameter = context.parameters?.[name];
    if (parameter !== undefined) return parameter;
    throw new UnresolvableReference(
      `Ref ${name}`,
      name.startsWith('AWS::')
        ? 'unsupported pseudo parameter'
        : 'no provisioned resource or parameter has this logical id',
      path,
    );
  }

  private getAtt(argument: unknown, path: string): string {
    let logicalId: string;
    let attribute: string;
    if (typeof argument === 'string') {
      // Attribute names can contain dots (`Endpoint.Address`); logical ids cannot.
      const dot = argument.indexOf('.');
      if (dot <= 0) {
        throw new UnresolvableReference(
          `Fn::GetAtt ${argument}`,
          'expects "LogicalId.Attribute"',
          path,
        );
      }
      logicalId = argument.slice(0, dot);
      attribute = argument.slice(dot + 1);
    } else {
      const [id, name] = this.arguments(argument, 2, path, 'Fn::GetAtt');
      logicalId = this.string(id, join(path, 0), 'Fn::GetAtt');
      attribute = this.string(name, join(path, 1), 'Fn::GetAtt');
    }
    return this.attribute(logicalId, attribute, path);
  }

  private attribute(logicalId: string, attribute: string, path: string): string {
    const resource = this.context.resources[logicalId];
    const reference = `Fn::GetAtt ${logicalId}.${attribute}`;
    if (resource === undefined) {
      throw new UnresolvableReference(
        reference,
        'no provisioned resource has this logical id',
        path,
      );
    }
    const value = resource.attributes[attribute];
    if (value === undefined) {
      const known = Object.keys(resource.attributes);
      throw new UnresolvableReference(
        reference,
        `${resource.type} has ${known.length === 0 ? 'no attributes' : `only ${known.join(', ')}`}`,
        path,
      );
    }
    return value;
  }

  private join(argument: unknown, path: string): string {
    const [delimiter, list] = this.arguments(argument, 2, path, 'Fn::Join');
    const separator = this.string(delimiter, join(path, 0), 'Fn::Join');
    const items = this.value(list, join(path, 1));
    if (!Array.isArray(items)) {
      throw new UnresolvableReference('Fn::Join', `expects a list, got ${describe(items)}`, path);
    }
    return items
      .map((item, index) => {
        if (typeof item === 'string') return item;
        // CloudFormation accepts numbers and booleans in a Join; objects mean a mistake.
        if (typeof item === 'number' || typeof item === 'boolean') return String(item);
        throw new UnresolvableReference(
          'Fn::Join',
          `list item ${index} is ${describe(item)}, not a string`,
          path,
        );
      })
      .join(separator);
  }

  private sub(argument: unknown, path: string): string {
    let template: string;
    let variables: Json = {};
    if (typeof argument === 'string') {
      template = argument;
    } else {
      const [text, map] = this.arguments(argument, 2, path, 'Fn::Sub');
      if (typeof text !== 'string' || !isObject(map)) {
        throw new UnresolvableReference(
          'Fn::Sub',
          `expects a string or [string, {variables}], got ${describe(argument)}`,
          path,
        );
      }
      template = text;
      variables = map;
    }
    const resolvedVariables = new Map<string, string>();
    for (const [name, value] of Object.entries(variables)) {
      resolvedVariables.set(name, this.string(value, join(join(path, 1), name), 'Fn::Sub'));
    }
    return template.replace(SUB_PLACEHOLDER, (_match, body: string) => {
      if (body.startsWith('!')) return `\${${body.slice(1)}}`;
      const name = body.trim();
      const variable = resolvedVariables.get(name);
      if (variable !== undefined) return variable;
      const dot = name.indexOf('.');
      if (dot > 0 && !name.startsWith('AWS::')) {
        return this.attribute(name.slice(0, dot), name.slice(dot + 1), path);
      }
      const value = this.ref(name, path);
      if (value === NO_VALUE) {
        throw new UnresolvableReference(
          'Fn::Sub',
          'AWS::NoValue cannot be substituted into a string',
          path,
        );
      }
      return value;
    });
  }

  private select(argument: unknown, path: string): unknown {
    const [index, list] = this.arguments(argument, 2, path, 'Fn::Select');
    const resolvedIndex = this.value(index, join(path, 0));
    const position =
      typeof resolvedIndex === 'number'
        ? resolvedIndex
        : typeof resolvedIndex === 'string' && /^\d+$/.test(resolvedIndex)
          ? Number(resolvedIndex)
          : Number.NaN;
    if (!Number.isInteger(position) || position < 0) {
      throw new UnresolvableReference(
        'Fn::Select',
        `index ${describe(resolvedIndex)} is not a non-negative integer`,
        path,
      );
    }
    const items = this.value(list, join(path, 1));
    if (!Array.isArray(items)) {
      throw new UnresolvableReference('Fn::Select', `expects a list, got ${describe(items)}`, path);
    }
    if (position >= items.length) {
      throw new UnresolvableReference(
        'Fn::Select',
        `index ${position} is out of range for a list of ${items.length}`,
        path,
      );
    }
    return items[position];
  }
}

/** `${Name}`, `${Name.Attribute}` or `${!Literal}` in an `Fn::Sub` string. */
const SUB_PLACEHOLDER = /\$\{([^}]*)\}/g;

/** A stable, plausible stack id: the same stack name always gets the same one. */
const stackId = (context: ResolveContext): string => {
  const hex = createHash('sha256').update(context.stackName).digest('hex');
  const uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
  return `arn:${context.partition ?? 'aws'}:cloudformation:${context.region}:${context.accountId}:stack/${context.stackName}/${uuid}`;
};

/**
 * Resolves every intrinsic in `value`, deeply. `{ Ref: 'AWS::NoValue' }` removes its key or
 * array element (and makes a top-level value `undefined`).
 */
export const resolve = (value: unknown, context: ResolveContext): unknown => {
  const resolved = new Resolver(context).value(value, '');
  return resolved === NO_VALUE ? undefined : resolved;
};

/** Resolves `value` and insists on a string (an ARN, a name, a URL). */
export const resolveString = (value: unknown, context: ResolveContext): string => {
  const resolved = resolve(value, context);
  if (typeof resolved === 'string') return resolved;
  throw new UnresolvableReference(
    describe(value),
    `resolves to ${describe(resolved)}, not a string`,
    '',
  );
};

/**
 * Every logical id `value` refers to (`Ref`, `Fn::GetAtt`, `Fn::Sub`'s `${X}` and `${X.Attr}`),
 * so resources can be provisioned after what they depend on. Pseudo parameters are left out;
 * template parameter names are not (the caller knows which ids are resources).
 */
export const referencedLogicalIds = (value: unknown): Set<string> => {
  const ids = new Set<string>();
  const add = (id: string) => {
    if (id !== '' && !id.startsWith('AWS::')) ids.add(id);
  };
  const visit = (item: unknown): void => {
    if (Array.isArray(item)) {
      item.forEach(visit);
      return;
    }
    if (!isObject(item)) return;
    const name = intrinsicName(item);
    const argument = name === undefined ? undefined : item[name];
    if (name === 'Ref' && typeof argument === 'string') {
      add(argument);
    } else if (name === 'Fn::GetAtt') {
      if (typeof argument === 'string') add(argument.split('.')[0] ?? '');
      else if (Array.isArray(argument) && typeof argument[0] === 'string') add(argument[0]);
      visit(argument);
    } else if (name === 'Fn::Sub') {
      const [template, variables] =
        typeof argument === 'string' ? [argument, {}] : Array.isArray(argument) ? argument : [];
      const defined = isObject(variables) ? new Set(Object.keys(variables)) : new Set<string>();
      if (typeof template === 'string') {
        for (const [, body = ''] of template.matchAll(SUB_PLACEHOLDER)) {
          const nameInSub = body.trim();
          if (body.startsWith('!') || defined.has(nameInSub)) continue;
          add(nameInSub.startsWith('AWS::') ? nameInSub : (nameInSub.split('.')[0] ?? ''));
        }
      }
      visit(variables);
    } else if (name === 'Condition') {
      // A condition name, not a resource.
    } else {
      Object.values(item).forEach(visit);
    }
  };
  visit(value);
  return ids;
};
