/**
 * IAM policy evaluation as AWS documents it for identity policies, small enough to read: the
 * local cloud asks it whether a function's role may make each AWS call it makes.
 *
 * Policy variables (`${aws:username}`) and IAM's escapes (`${*}`, `${?}`) are out of scope: a
 * policy value is compared as written, so `${aws:username}` matches only that text.
 */

import { BlockList, isIP } from 'node:net';
import type {
  AuthorizationRequest,
  ConditionBlock,
  Decision,
  NamedPolicy,
  PolicyStatement,
  StatementRef,
} from './types';

/** A policy field that holds one value or a list of them (none when absent). */
export const asList = <T>(value: T | readonly T[] | undefined): readonly T[] =>
  value === undefined ? [] : Array.isArray(value) ? (value as readonly T[]) : [value as T];

/** IAM's wildcards: `*` is any run of characters (`:` and `/` included), `?` any one character. */
const wildcard = (pattern: string, flags: 's' | 'si'): RegExp => {
  const body = pattern.replace(/[.+^${}()|[\]\\*?]/g, (character) => {
    if (character === '*') return '.*';
    if (character === '?') return '.';
    return `\\${character}`;
  });
  return new RegExp(`^${body}$`, flags);
};

/** `s3:Get*` against `s3:GetObject`: actions compare without regard to case. */
export const matchesAction = (pattern: string, action: string): boolean =>
  wildcard(pattern, 'si').test(action);

/** `arn:aws:s3:::bucket/*` against an object's ARN: resources compare case-sensitively. */
export const matchesResource = (pattern: string, arn: string): boolean =>
  wildcard(pattern, 's').test(arn);

// ---- conditions -----------------------------------------------------------------------------
//
// As the IAM User Guide gives them: "IAM JSON policy elements: Condition operators"
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html),
// "Conditions with multiple context keys or values"
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html)
// and "Single-valued vs. multivalued context keys"
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html).

/** Whether one value from the request matches one value from the policy. */
type Match = (value: string, policyValue: string) => boolean;

const sameIgnoringCase: Match = (value, policyValue) =>
  value.toLowerCase() === policyValue.toLowerCase();

/**
 * The guide gives ArnEquals and ArnLike one meaning: the six colon-separated parts compared one
 * by one, each with its own wildcards. Either side with fewer parts is no ARN, and no match.
 */
const arnParts = (arn: string): string[] | undefined => {
  const parts = arn.split(':');
  return parts.length < 6 ? undefined : [...parts.slice(0, 5), parts.slice(5).join(':')];
};

const arnLike: Match = (value, policyValue) => {
  const actual = arnParts(value);
  const expected = arnParts(policyValue);
  if (actual === undefined || expected === undefined) return false;
  return expected.every((part, index) => wildcard(part, 's').test(actual[index] ?? ''));
};

/** Not a number (NaN) for text that is not one, so that every comparison with it fails. */
const toNumber = (text: string): number => (text.trim() === '' ? Number.NaN : Number(text));

/** IAM's dates are ISO 8601 or, as `aws:EpochTime` is, seconds since the epoch. */
const toTime = (text: string): number =>
  /^\d+$/.test(text) ? Number(text) * 1000 : Date.parse(text);

const numeric =
  (compare: (value: number, policyValue: number) => boolean): Match =>
  (value, policyValue) =>
    compare(toNumber(value), toNumber(policyValue));

const dated =
  (compare: (value: number, policyValue: number) => boolean): Match =>
  (value, policyValue) =>
    compare(toTime(value), toTime(policyValue));

/** `203.0.113.0/24`, or one address; an address of the other family never matches. */
const inRange: Match = (address, range) => {
  const [network = '', bits] = range.split('/');
  const family = isIP(network);
  if (family === 0 || isIP(address) !== family) return false;
  if (bits !== undefined && !/^\d+$/.test(bits)) return false;
  const longest = family === 4 ? 32 : 128;
  const prefix = bits === undefined ? longest : Number(bits);
  if (prefix > longest) return false;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  const block = new BlockList();
  block.addSubnet(network, prefix, type);
  return block.check(address, type);
};

const POSITIVE = {
  StringEquals: (value, policyValue) => value === policyValue,
  StringEqualsIgnoreCase: sameIgnoringCase,
  StringLike: (value, policyValue) => wildcard(policyValue, 's').test(value),
  ArnEquals: arnLike,
  ArnLike: arnLike,
  // CloudFormation writes `"true"`, a hand-written policy `true` or `"True"`.
  Bool: sameIgnoringCase,
  NumericEquals: numeric((a, b) => a === b),
  NumericLessThan: numeric((a, b) => a < b),
  NumericLessThanEquals: numeric((a, b) => a <= b),
  NumericGreaterThan: numeric((a, b) => a > b),
  NumericGreaterThanEquals: numeric((a, b) => a >= b),
  DateEquals: dated((a, b) => a === b),
  DateLessThan: dated((a, b) => a < b),
  DateLessThanEquals: dated((a, b) => a <= b),
  DateGreaterThan: dated((a, b) => a > b),
  DateGreaterThanEquals: dated((a, b) => a >= b),
  IpAddress: inRange,
} satisfies Record<string, Match>;

/** Each negated operator and the operator it negates. */
const NEGATED: Readonly<Record<string, keyof typeof POSITIVE>> = {
  StringNotEquals: 'StringEquals',
  StringNotEqualsIgnoreCase: 'StringEqualsIgnoreCase',
  StringNotLike: 'StringLike',
  ArnNotEquals: 'ArnEquals',
  ArnNotLike: 'ArnLike',
  NumericNotEquals: 'NumericEquals',
  DateNotEquals: 'DateEquals',
  NotIpAddress: 'IpAddress',
};

interface Comparison {
  readonly match: Match;
  readonly negated: boolean;
}

// A Map, so that an operator named like an object's property (`toString`) is unknown.
const COMPARISONS = new Map<string, Comparison>([
  ...Object.entries(POSITIVE).map(([name, match]) => [name, { match, negated: false }] as const),
  ...Object.entries(NEGATED).map(
    ([name, positive]) => [name, { match: POSITIVE[positive], negated: true }] as const,
  ),
]);

type Operator =
  | { readonly kind: 'null' }
  | {
      readonly kind: 'compare';
      readonly comparison: Comparison;
      readonly set: 'ForAnyValue' | 'ForAllValues' | undefined;
      readonly ifExists: boolean;
    };

/**
 * `ForAnyValue:StringLikeIfExists` → its parts; undefined for an operator this file does not
 * know. `Null` takes neither a set qualifier nor `IfExists`.
 */
const parseOperator = (name: string): Operator | undefined => {
  if (name === 'Null') return { kind: 'null' };
  const parts = /^(?:(ForAnyValue|ForAllValues):)?(\w+?)(IfExists)?$/.exec(name);
  const comparison = parts && COMPARISONS.get(parts[2] ?? '');
  if (!parts || !comparison) return undefined;
  const set = parts[1] as 'ForAnyValue' | 'ForAllValues' | undefined;
  return { kind: 'compare', comparison, set, ifExists: parts[3] !== undefined };
};

/**
 * One operator, one key: `values` are the request's (none when the key is absent, or present
 * with no values), `policyValues` the policy's, ORed.
 */
const holds = (
  operator: Operator,
  values: readonly string[],
  policyValues: readonly string[],
): boolean => {
  if (operator.kind === 'null') {
    // `"Null": {key: "true"}` holds when the key is absent, `"false"` when it is present.
    const absent = String(values.length === 0);
    return policyValues.some((policyValue) => policyValue.toLowerCase() === absent);
  }
  const { comparison, set, ifExists } = operator;
  const matchesAny = (value: string) =>
    policyValues.some((policyValue) => comparison.match(value, policyValue));
  // A negated operator holds for a value that matches none of the policy's values (NOR).
  const holdsFor = (value: string) => matchesAny(value) !== comparison.negated;
  // A set qualifier decides an absent key (or one with no values) itself: ForAllValues holds,
  // as "Single-valued vs. multivalued context keys" says, and ForAnyValue does not, having no
  // value that matches. IfExists changes neither: AWS denied a role whose only Allow was
  // ForAnyValue:StringEqualsIfExists on a request without the key (re:Post, "ForAnyValue:
  // StringEqualsIfExists behaving unexpectedly").
  if (set === 'ForAllValues') return values.every(holdsFor);
  if (set === 'ForAnyValue') return values.some(holdsFor);
  // "If the key that you specify in a policy condition is not present in the request context,
  // the values do not match and the condition is false. If the policy condition requires that
  // the key is not matched, such as StringNotLike or ArnNotLike, and the right key is not
  // present, the condition is true." (Condition operators.) IfExists makes it true either way.
  if (values.length === 0) return ifExists || comparison.negated;
  // The guide asks for a set qualifier on a multivalued key and does not say what a plain
  // operator does with one; here it reads one as ForAnyValue would, and a negated operator
  // holds when no value matches.
  return values.some(matchesAny) !== comparison.negated;
};

/**
 * A condition block against a request's context: every operator and every key in it must hold
 * (AND). Keys compare without regard to case. 'unsupported' when nothing known fails but an
 * operator this file does not know (or IAM does not) would decide: the caller fails closed.
 */
export const evaluateConditions = (
  block: ConditionBlock,
  context: AuthorizationRequest['context'],
): boolean | 'unsupported' => {
  const request = new Map(
    Object.entries(context).map(([key, value]) => [key.toLowerCase(), asList(value)]),
  );
  let unsupported = false;
  for (const [name, keys] of Object.entries(block)) {
    const operator = parseOperator(name);
    if (!operator) {
      unsupported = true;
      continue;
    }
    for (const [key, policyValues] of Object.entries(keys)) {
      const values = request.get(key.toLowerCase()) ?? [];
      if (!holds(operator, values, asList(policyValues).map(String))) return false;
    }
  }
  return unsupported ? 'unsupported' : true;
};

// ---- statements and policies ----------------------------------------------------------------

/**
 * `Action` lists what a statement covers and `NotAction` what it leaves out (the same for
 * `Resource` and `NotResource`); a statement with neither covers nothing.
 */
const covers = (
  listed: string | readonly string[] | undefined,
  leftOut: string | readonly string[] | undefined,
  matches: (pattern: string) => boolean,
): boolean => {
  if (listed !== undefined) return asList(listed).some(matches);
  if (leftOut !== undefined) return !asList(leftOut).some(matches);
  return false;
};

const applies = (statement: PolicyStatement, request: AuthorizationRequest): boolean => {
  if (!covers(statement.Action, statement.NotAction, (p) => matchesAction(p, request.action))) {
    return false;
  }
  if (
    !covers(statement.Resource, statement.NotResource, (p) => matchesResource(p, request.resource))
  ) {
    return false;
  }
  const conditions = evaluateConditions(statement.Condition ?? {}, request.context);
  // IAM refuses a policy with an operator it does not know, so such a statement can only reach
  // here through an operator this file leaves out. Failing closed (an Allow grants nothing, a
  // Deny denies) turns that gap into a denial someone sees; a guess could grant what AWS refuses.
  if (conditions === 'unsupported') return statement.Effect === 'Deny';
  return conditions;
};

/**
 * Identity-policy evaluation ("Policy evaluation logic",
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
 * an explicit Deny in any statement that applies wins; otherwise any Allow that applies allows,
 * and the decision lists every one; otherwise the request is implicitly denied.
 */
export const evaluate = (
  policies: readonly NamedPolicy[],
  request: AuthorizationRequest,
): Decision => {
  const allowedBy: StatementRef[] = [];
  for (const { name, document } of policies) {
    for (const [index, statement] of asList(document.Statement).entries()) {
      if (!applies(statement, request)) continue;
      const ref = {
        policy: name,
        index,
        ...(statement.Sid === undefined ? {} : { sid: statement.Sid }),
      };
      if (statement.Effect === 'Deny') return { effect: 'deny', deniedBy: ref };
      allowedBy.push(ref);
    }
  }
  return allowedBy.length > 0 ? { effect: 'allow', allowedBy } : { effect: 'implicit-deny' };
};
