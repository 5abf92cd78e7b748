/**
 * Event patterns as Lambda event source mappings (FilterCriteria) and SNS subscription filter
 * policies apply them. Both are EventBridge-style: a pattern's keys must all match; a leaf is a
 * list of conditions, any of which may match; `$or` lists alternative sub-patterns.
 *
 * Like EventBridge, a record is read as leaf values by path: a condition sees the primitive
 * values (an array contributes each of its elements), never an object, so `exists` holds only
 * for leaves. An operator this file does not know throws `UnsupportedPattern`: a filter that
 * silently matched everything (or nothing) would hide a real difference from AWS.
 */

export type EventPattern = Record<string, unknown>;

export class UnsupportedPattern extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedPattern';
  }
}

type Leaf = string | number | boolean | null;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isLeaf = (value: unknown): value is Leaf =>
  value === null || ['string', 'number', 'boolean'].includes(typeof value);

const show = (value: unknown): string => JSON.stringify(value) ?? String(value);

/** The primitive values at a path: none for a missing field or an object. */
const leafValues = (value: unknown): Leaf[] => {
  if (Array.isArray(value)) return value.flatMap(leafValues);
  return isLeaf(value) ? [value] : [];
};

const NUMERIC_OPERATORS = new Set(['=', '<', '<=', '>', '>=']);

const compare = (value: number, operator: unknown, operand: unknown): boolean => {
  if (typeof operand !== 'number' || !NUMERIC_OPERATORS.has(String(operator))) {
    throw new UnsupportedPattern(`numeric: bad comparison ${show([operator, operand])}`);
  }
  switch (operator) {
    case '=':
      return value === operand;
    case '<':
      return value < operand;
    case '<=':
      return value <= operand;
    case '>':
      return value > operand;
    default:
      return value >= operand;
  }
};

const numeric = (value: Leaf, operand: unknown): boolean => {
  if (!Array.isArray(operand) || (operand.length !== 2 && operand.length !== 4)) {
    throw new UnsupportedPattern(`numeric expects [op, n] or [op, n, op, n], got ${show(operand)}`);
  }
  const comparisons = operand.length === 2 ? [operand] : [operand.slice(0, 2), operand.slice(2)];
  // Every comparison is checked (compare throws on a bad one) before the value's type is.
  const results = comparisons.map(([operator, limit]) =>
    compare(typeof value === 'number' ? value : 0, operator, limit),
  );
  return typeof value === 'number' && results.every(Boolean);
};

const ignoringCase = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

/** `prefix` / `suffix`: a string, or `{ 'equals-ignore-case': string }`. */
const affix = (kind: 'prefix' | 'suffix', value: Leaf, operand: unknown): boolean => {
  const test = (text: string, part: string) =>
    kind === 'prefix' ? text.startsWith(part) : text.endsWith(part);
  if (typeof operand === 'string') return typeof value === 'string' && test(value, operand);
  if (isObject(operand) && typeof operand['equals-ignore-case'] === 'string') {
    const part = operand['equals-ignore-case'].toLowerCase();
    return typeof value === 'string' && test(value.toLowerCase(), part);
  }
  throw new UnsupportedPattern(`${kind} expects a string, got ${show(operand)}`);
};

const literalEquals = (value: Leaf, literal: Leaf): boolean => value === literal;

const anythingBut = (value: Leaf, operand: unknown): boolean => {
  if (isLeaf(operand)) return !literalEquals(value, operand);
  if (Array.isArray(operand)) {
    if (!operand.every(isLeaf)) {
      throw new UnsupportedPattern(`anything-but lists only literals, got ${show(operand)}`);
    }
    return !operand.some((literal) => literalEquals(value, literal));
  }
  if (isObject(operand)) {
    const [operator, ...more] = Object.keys(operand);
    if (operator === undefined || more.length > 0) {
      throw new UnsupportedPattern(`anything-but takes one operator, got ${show(operand)}`);
    }
    const inner = operand[operator];
    switch (operator) {
      case 'prefix':
      case 'suffix':
        if (typeof inner !== 'string') break;
        return typeof value === 'string' && !affix(operator, value, inner);
      case 'equals-ignore-case': {
        const words = typeof inner === 'string' ? [inner] : inner;
        if (!Array.isArray(words) || !words.every((word) => typeof word === 'string')) break;
        return typeof value === 'string' && !words.some((word) => ignoringCase(value, word));
      }
    }
    throw new UnsupportedPattern(`anything-but does not support ${show(operand)}`);
  }
  throw new UnsupportedPattern(`anything-but does not support ${show(operand)}`);
};

/** Whether one value satisfies one condition (not `exists`, which is about the whole path). */
const satisfies = (value: Leaf, condition: unknown): boolean => {
  if (isLeaf(condition)) return literalEquals(value, condition);
  if (!isObject(condition)) {
    throw new UnsupportedPattern(`a condition is a literal or an operator, got ${show(condition)}`);
  }
  const [operator, ...more] = Object.keys(condition);
  if (operator === undefined || more.length > 0) {
    throw new UnsupportedPattern(`a condition has exactly one operator, got ${show(condition)}`);
  }
  const operand = condition[operator];
  switch (operator) {
    case 'prefix':
    case 'suffix':
      return affix(operator, value, operand);
    case 'equals-ignore-case':
      if (typeof operand !== 'string') {
        throw new UnsupportedPattern(`equals-ignore-case expects a string, got ${show(operand)}`);
      }
      return typeof value === 'string' && ignoringCase(value, operand);
    case 'anything-but':
      return anythingBut(value, operand);
    case 'numeric':
      return numeric(value, operand);
    default:
      throw new UnsupportedPattern(`unsupported operator "${operator}" in ${show(condition)}`);
  }
};

const existsOperand = (condition: unknown): boolean | undefined => {
  if (!isObject(condition) || !('exists' in condition)) return undefined;
  const operand = condition.exists;
  if (typeof operand !== 'boolean' || Object.keys(condition).length !== 1) {
    throw new UnsupportedPattern(`exists expects true or false, got ${show(condition)}`);
  }
  return operand;
};

/** Checks a condition's shape: `satisfies` validates its operand whatever the value. */
const validateCondition = (condition: unknown): void => {
  satisfies(null, condition);
};

const matchesConditions = (value: unknown, conditions: readonly unknown[], key: string) => {
  if (conditions.length === 0) throw new UnsupportedPattern(`"${key}" has an empty list`);
  const values = leafValues(value);
  return conditions
    .map((condition) => {
      const exists = existsOperand(condition);
      if (exists !== undefined) return exists === values.length > 0;
      // Checked even when the field is missing, so a bad operator never hides.
      validateCondition(condition);
      return values.some((item) => satisfies(item, condition));
    })
    .some(Boolean);
};

const matchesObject = (record: unknown, pattern: EventPattern): boolean => {
  let matched = true;
  for (const [key, expected] of Object.entries(pattern)) {
    let result: boolean;
    if (key === '$or') {
      if (!Array.isArray(expected) || expected.length === 0 || !expected.every(isObject)) {
        throw new UnsupportedPattern(`$or expects a list of patterns, got ${show(expected)}`);
      }
      result = expected.map((alternative) => matchesObject(record, alternative)).some(Boolean);
    } else {
      const value = isObject(record) ? record[key] : undefined;
      if (Array.isArray(expected)) {
        result = matchesConditions(value, expected, key);
      } else if (isObject(expected)) {
        // An array of objects matches when any element does, as EventBridge flattens arrays.
        const candidates = Array.isArray(value) ? value.filter(isObject) : [value];
        const outcomes = (candidates.length === 0 ? [undefined] : candidates).map((candidate) =>
          matchesObject(candidate, expected),
        );
        result = outcomes.some(Boolean);
      } else {
        throw new UnsupportedPattern(
          `"${key}" must be a list of conditions or a nested pattern, got ${show(expected)}`,
        );
      }
    }
    // No short-circuit: a bad operator later in the pattern must still throw.
    matched &&= result;
  }
  return matched;
};

const parseJsonObject = (text: string): Record<string, unknown> | undefined => {
  try {
    const parsed: unknown = JSON.parse(text);
    return isObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
};

/**
 * Lambda matches an SQS record's `body` as JSON when both the body and the pattern's `body`
 * are JSON objects, and as a plain string when both are plain; a mix never matches.
 */
export const matchesPattern = (record: unknown, pattern: EventPattern): boolean => {
  if (!isObject(record) || typeof record.body !== 'string' || !('body' in pattern)) {
    return matchesObject(record, pattern);
  }
  const json = parseJsonObject(record.body);
  const wantsJson = isObject(pattern.body);
  const formatsAgree = wantsJson === (json !== undefined);
  // Matched even when the formats disagree, so an unsupported operator still throws.
  const matched = matchesObject({ ...record, body: json ?? record.body }, pattern);
  return formatsAgree && matched;
};

/** Lambda sends a record when any filter matches it; without filters, every record. */
export const matchesAnyPattern = (record: unknown, patterns: readonly EventPattern[]): boolean =>
  patterns.length === 0 || patterns.map((pattern) => matchesPattern(record, pattern)).some(Boolean);

/**
 * An event source mapping's `FilterCriteria` (`{ Filters: [{ Pattern: '<json>' }] }`) as
 * patterns, each checked for operators this file supports. Absent criteria: no patterns.
 */
export const parseFilterCriteria = (filterCriteria: unknown): EventPattern[] => {
  if (filterCriteria === undefined || filterCriteria === null) return [];
  if (!isObject(filterCriteria)) {
    throw new UnsupportedPattern(`FilterCriteria must be an object, got ${show(filterCriteria)}`);
  }
  const filters = filterCriteria.Filters;
  if (filters === undefined) return [];
  if (!Array.isArray(filters)) {
    throw new UnsupportedPattern(`FilterCriteria.Filters must be a list, got ${show(filters)}`);
  }
  return filters.map((filter, index) => {
    const text = isObject(filter) ? filter.Pattern : undefined;
    if (typeof text !== 'string') {
      throw new UnsupportedPattern(`Filters[${index}].Pattern must be a string`);
    }
    const pattern = parseJsonObject(text);
    if (pattern === undefined) {
      throw new UnsupportedPattern(`Filters[${index}].Pattern is not a JSON object: ${text}`);
    }
    // Matching an empty record walks every condition, so an unsupported one throws now.
    matchesObject({}, pattern);
    return pattern;
  });
};

export interface SnsMessage {
  readonly body: string;
  readonly attributes: Readonly<Record<string, { DataType: string; StringValue?: string }>>;
}

/** Message attributes as the values a filter policy sees; Binary ones are never matched. */
const attributeValues = (attributes: SnsMessage['attributes']): Record<string, unknown> => {
  const values: Record<string, unknown> = {};
  for (const [name, { DataType, StringValue }] of Object.entries(attributes)) {
    if (StringValue === undefined) continue;
    const type = DataType.split('.')[0];
    if (DataType === 'String.Array') {
      try {
        values[name] = JSON.parse(StringValue);
      } catch {
        // SNS refuses to publish a malformed String.Array; treat it as absent.
      }
    } else if (type === 'Number') {
      values[name] = Number(StringValue);
    } else if (type === 'String') {
      values[name] = StringValue;
    }
  }
  return values;
};

const assertFlat = (policy: EventPattern): void => {
  for (const [key, value] of Object.entries(policy)) {
    if (key === '$or' && Array.isArray(value)) value.filter(isObject).forEach(assertFlat);
    else if (isObject(value)) {
      throw new UnsupportedPattern(
        `"${key}": nested keys need FilterPolicyScope MessageBody, not MessageAttributes`,
      );
    }
  }
};

/**
 * Whether an SNS subscription's filter policy lets `message` through. The local cloud uses it
 * only to report which consumers an event was filtered away from (moto does the delivery).
 */
export const snsFilterPolicyMatches = (
  policy: Record<string, unknown>,
  scope: 'MessageAttributes' | 'MessageBody',
  message: SnsMessage,
): boolean => {
  if (scope === 'MessageAttributes') {
    assertFlat(policy);
    return matchesObject(attributeValues(message.attributes), policy);
  }
  // A body that is not a JSON object matches no body policy; still check the policy itself.
  const body = parseJsonObject(message.body);
  const matched = matchesObject(body ?? {}, policy);
  return body !== undefined && matched;
};
