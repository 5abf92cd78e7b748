/**
 * What the infrastructure (`lib/`) and the handlers must agree on: the API's route keys,
 * the buckets' key prefixes and keys, and the table's TTL attribute. Both sides import
 * these, so neither can change one alone; the tools (`ops/`, `local/`, `bench/`) read
 * them from here too.
 *
 * No AWS SDK or CDK import: every handler bundles this module. The table's item keys
 * (`PROFILE_SK`, which the stream filter names) are in `domain/keys.ts`, the event types
 * and the message attribute the subscriptions filter on in `domain/events.ts`.
 */

// ---- HTTP API -------------------------------------------------------------------------------

/** The routes the API function serves, as API Gateway's route keys (`METHOD /path`) name them. */
export const CUSTOMER_ROUTES = {
  create: 'POST /customers',
  get: 'GET /customers/{idOrEmail}',
  replace: 'PUT /customers/{id}',
  delete: 'DELETE /customers/{id}',
} as const;

export type CustomerRouteKey = (typeof CUSTOMER_ROUTES)[keyof typeof CUSTOMER_ROUTES];

/** Served by a function of its own: only it needs the S3 client and the presigner. */
export const AVATAR_UPLOAD_ROUTE = 'POST /customers/{id}/avatar-upload';

/** Served by the avatar function, which also processes the uploads: a redirect to the image. */
export const AVATAR_ROUTE = 'GET /customers/{id}/avatar';

export type RouteKey = CustomerRouteKey | typeof AVATAR_UPLOAD_ROUTE | typeof AVATAR_ROUTE;

export type RouteMethod = RouteKey extends `${infer Method} ${string}` ? Method : never;

/** A route key's method and path: `POST /customers` → `{ method: 'POST', path: '/customers' }`. */
export const routeParts = (
  routeKey: RouteKey,
): { readonly method: RouteMethod; readonly path: string } => {
  const [method, path] = routeKey.split(' ') as [RouteMethod, string];
  return { method, path };
};

// ---- Customer table ---------------------------------------------------------------------------

/** The attribute DynamoDB's TTL reads: epoch seconds after which an item may vanish. */
export const TTL_ATTRIBUTE = 'expiresAt';

// ---- Assets bucket ----------------------------------------------------------------------------

/**
 * Where a client's avatar upload lands: one fixed key per customer, through a presigned POST
 * whose policy pins the key, the content type and the size.
 */
export const AVATAR_UPLOADS_PREFIX = 'avatar-uploads/';
export const avatarUploadKey = (customerId: string): string =>
  `${AVATAR_UPLOADS_PREFIX}${customerId}`;

/**
 * Avatars as served, resized by the avatar function: `avatars/<id>.jpg`. Never under
 * `AVATAR_UPLOADS_PREFIX`, whose notification would hand the function its own write.
 */
export const AVATARS_PREFIX = 'avatars/';
export const avatarKey = (customerId: string): string => `${AVATARS_PREFIX}${customerId}.jpg`;

/**
 * Where the presigned PUT of earlier releases put a customer's upload, unchecked: nothing
 * writes it now, and the erase removes what is left there.
 */
export const legacyAvatarKey = (customerId: string): string => `${AVATARS_PREFIX}${customerId}`;

/**
 * The prefixes under which a customer's avatar objects live, each followed by nothing or a
 * suffix (ids are UUIDs of one length, so no other customer's key starts with one of these).
 */
export const avatarPrefixesOf = (customerId: string): readonly string[] => [
  avatarUploadKey(customerId),
  legacyAvatarKey(customerId),
];

/** The customer archive: the versions of `customers/<id>.json` are the customer's history. */
export const ARCHIVE_PREFIX = 'customers/';
export const archiveKey = (customerId: string): string => `${ARCHIVE_PREFIX}${customerId}.json`;

// ---- Marketing contacts bucket ----------------------------------------------------------------

/** One object per customer who opted in. */
export const CONTACTS_PREFIX = 'contacts/';
export const contactKey = (customerId: string): string => `${CONTACTS_PREFIX}${customerId}.json`;

// ---- Stream publisher's failure bucket --------------------------------------------------------

/** Where Lambda writes the batches the stream mapping gave up on (its own key scheme below it). */
export const LAMBDA_FAILURE_PREFIX = 'aws/lambda/';

/** Where the publisher writes a record it can never publish, keyed by its sequence number. */
export const UNPUBLISHABLE_PREFIX = 'unpublishable/';
export const unpublishableKey = (name: string): string => `${UNPUBLISHABLE_PREFIX}${name}`;
