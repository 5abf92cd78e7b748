/**
 * IAM policy evaluation as AWS documents it for identity policies, small enough to read: the
 * local cloud asks it whether a function's role may make each AWS call it makes.
 *
 * Policy variables (`${aws:username}`) and IAM's escapes (`${*}`, `${?}`) are out of scope: a
 * policy value is compared as written, so a statement that relies on one never matches.
 */

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
