import * as z from 'zod/mini';
import { MalformedHeader } from './errors';

/**
 * GitHub's username rules: 1–39 characters, letters, digits and single hyphens,
 * never starting or ending with a hyphen.
 */
const GITHUB_USERNAME = /^[a-z\d](?:[a-z\d]|-(?=[a-z\d])){0,38}$/i;

/** Today's date in UTC as `YYYY-MM-DD`; ISO dates compare correctly as strings. */
const todayUtc = (): string => new Date().toISOString().slice(0, 10);

export const customerIdSchema = z.uuid();

// Trimmed before the format check: a string format checks itself before any added check runs.
export const emailSchema = z.pipe(
  z.string().check(z.trim(), z.maxLength(254)),
  z.email().check(z.toLowerCase()),
);

/** What a client may send, on create (POST) and on replace (PUT). Unknown fields are rejected. */
export const customerInputSchema = z.strictObject({
  fullName: z.string().check(z.trim(), z.minLength(1), z.maxLength(200)),
  email: emailSchema,
  gitHubUsername: z.optional(
    z.string().check(z.regex(GITHUB_USERNAME, 'must follow GitHub username rules')),
  ),
  dateOfBirth: z.iso
    .date()
    .check(z.refine((date) => date <= todayUtc(), 'must not be in the future')),
  marketingOptIn: z._default(z.boolean(), false),
});
export type CustomerInput = z.infer<typeof customerInputSchema>;

/**
 * The customer's published avatar, which only the avatar function writes: the resized image's
 * key and version in the assets bucket, and the upload's S3 `sequencer` (`sequencerOrder`),
 * so that an older upload processed late never replaces it.
 */
export const avatarSchema = z.object({
  key: z.string(),
  versionId: z.string().check(z.minLength(1)),
  contentType: z.string(),
  width: z.int().check(z.positive()),
  height: z.int().check(z.positive()),
  bytes: z.int().check(z.positive()),
  updatedAt: z.iso.datetime(),
  sequencer: z.string(),
});
export type Avatar = z.infer<typeof avatarSchema>;

/** A stored customer, as the API returns it and as events carry it. */
export const customerSchema = z.object({
  id: customerIdSchema,
  fullName: z.string(),
  email: z.string(),
  gitHubUsername: z.optional(z.string()),
  dateOfBirth: z.string(),
  marketingOptIn: z.boolean(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  version: z.int().check(z.positive()),
  avatar: z.optional(avatarSchema),
});
export type Customer = z.infer<typeof customerSchema>;

export const newCustomer = (id: string, input: CustomerInput, now: Date): Customer => ({
  id,
  ...input,
  createdAt: now.toISOString(),
  updatedAt: now.toISOString(),
  version: 1,
});

/** The fields a client controls; `id`, timestamps, `version` and `avatar` are the server's. */
const CLIENT_FIELDS = [
  'fullName',
  'email',
  'gitHubUsername',
  'dateOfBirth',
  'marketingOptIn',
] as const satisfies readonly (keyof CustomerInput)[];

/** True when applying `input` (a full replacement) would change nothing a client controls. */
export const isUnchanged = (current: Customer, input: CustomerInput): boolean =>
  CLIENT_FIELDS.every((field) => current[field] === input[field]);

/**
 * PUT replaces the client's fields, keeps identity, creation time and the avatar (the
 * server's, like `createdAt`), and bumps the version.
 */
export const replaceCustomer = (current: Customer, input: CustomerInput, now: Date): Customer => ({
  id: current.id,
  ...input,
  createdAt: current.createdAt,
  updatedAt: now.toISOString(),
  version: current.version + 1,
  ...(current.avatar === undefined ? {} : { avatar: current.avatar }),
});

/** A strong entity tag for a customer version. */
export const etagOf = (customer: Pick<Customer, 'version'>): string => `"${customer.version}"`;

/** An `If-Match` header read by RFC 9110: any current representation, or a list of tags. */
export type IfMatch =
  | { readonly any: true }
  | { readonly any: false; readonly tags: readonly string[] };

/** RFC 9110 entity-tag: an optional weakness prefix and an opaque quoted string. */
const ENTITY_TAG = /^(?:W\/)?"[\x21\x23-\x7e\x80-\xff]*"$/;

/**
 * Reads an `If-Match` value: `*`, or a comma-separated list of entity tags (empty list
 * elements are allowed and ignored). Anything else is malformed and says so, rather
 * than failing the comparison as if the customer had changed.
 * @throws MalformedHeader
 */
export const parseIfMatch = (value: string): IfMatch => {
  if (value.trim() === '*') return { any: true };
  const tags = value
    .split(',')
    .map((tag) => tag.trim())
    .filter((tag) => tag !== '');
  if (tags.length === 0 || !tags.every((tag) => ENTITY_TAG.test(tag))) {
    throw new MalformedHeader('If-Match', 'a list of quoted entity tags such as "3", or *');
  }
  return { any: false, tags };
};

/**
 * Whether `ifMatch` matches the customer's current ETag: `*` matches any current
 * customer, and a weak tag never matches (If-Match compares strongly).
 */
export const ifMatchSatisfied = (ifMatch: IfMatch, customer: Pick<Customer, 'version'>): boolean =>
  ifMatch.any || ifMatch.tags.includes(etagOf(customer));
