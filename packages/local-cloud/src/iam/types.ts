/**
 * IAM as the local cloud evaluates it: the policy grammar of the templates it runs, and
 * one authorization request (what AWS checks for one action of one call).
 */

/** A condition block: operator → condition key → value(s), as IAM writes it. */
export type ConditionBlock = Readonly<
  Record<
    string,
    Readonly<Record<string, string | boolean | number | readonly (string | boolean | number)[]>>
  >
>;

export interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | readonly string[];
  readonly NotAction?: string | readonly string[];
  readonly Resource?: string | readonly string[];
  readonly NotResource?: string | readonly string[];
  readonly Condition?: ConditionBlock;
  /** Resource policies only. */
  readonly Principal?: unknown;
  readonly NotPrincipal?: unknown;
}

export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: PolicyStatement | readonly PolicyStatement[];
}

/** A policy with the name the report gives it (the template's logical id, or a managed policy's name). */
export interface NamedPolicy {
  readonly name: string;
  readonly document: PolicyDocument;
}

/**
 * What AWS authorizes for one action of one call: `dynamodb:PutItem` on a table's ARN,
 * with the request's condition keys (`s3:prefix`, `aws:SecureTransport`, …). Keys are
 * compared case-insensitively, as IAM compares them; a value may be a list (multivalued keys).
 */
export interface AuthorizationRequest {
  readonly action: string;
  readonly resource: string;
  readonly context: Readonly<Record<string, string | readonly string[]>>;
}

/** Which statement decided: the policy's name and the statement's index in it. */
export interface StatementRef {
  readonly policy: string;
  readonly index: number;
  readonly sid?: string;
}

export type Decision =
  | { readonly effect: 'allow'; readonly allowedBy: readonly StatementRef[] }
  | { readonly effect: 'deny'; readonly deniedBy: StatementRef }
  | { readonly effect: 'implicit-deny' };
