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

// ---- Business metrics ---------------------------------------------------------------------------

/**
 * Every handler writes its metrics in CloudWatch's embedded metric format to its log, in the
 * namespace its `POWERTOOLS_METRICS_NAMESPACE` names (the stack's name, so two stages in one
 * account never mix). Each datapoint has the dimension set `[service]` (the function's name);
 * the canary's metrics (`CANARY_METRICS`) also `[service, FunctionVersion]`, so a deployment's
 * alarm reads the new version alone; `RecordsFailed` also `[service, reason]`.
 */
export const METRIC_DIMENSIONS = {
  service: 'service',
  functionVersion: 'FunctionVersion',
  reason: 'reason',
} as const;

/** Every business metric, each a Count. */
export const METRICS = {
  /** api: a customer created (201). */
  customersCreated: 'CustomersCreated',
  /** api: a PUT that changed the customer (a PUT that changes nothing writes nothing). */
  customersUpdated: 'CustomersUpdated',
  /** api: a customer deleted (204). */
  customersDeleted: 'CustomersDeleted',
  /** Every HTTP answer of a function behind the API, by status class. */
  answers2xx: 'Answers2xx',
  answers3xx: 'Answers3xx',
  answers4xx: 'Answers4xx',
  answers5xx: 'Answers5xx',
  /** stream-publisher: events SNS accepted (a retried record's repeat counts again). */
  eventsPublished: 'EventsPublished',
  /** welcome: a welcome handed to the provider and marked sent. */
  welcomesSent: 'WelcomesSent',
  /** welcome: not sent, another delivery of the event sent it already. */
  welcomesSkippedDuplicate: 'WelcomesSkippedDuplicate',
  /** welcome: not sent, the customer is gone. */
  welcomesSkippedDeleted: 'WelcomesSkippedDeleted',
  /** archive: a version (or the tombstone) written. */
  archiveVersionsWritten: 'ArchiveVersionsWritten',
  /** archive: an event older than (or the same as) the stored version, or after the tombstone. */
  archiveStaleEventsIgnored: 'ArchiveStaleEventsIgnored',
  /** marketing: a contact written for a granted consent. */
  contactsAdded: 'ContactsAdded',
  /** marketing: a contact removed (revoked consent, or the customer deleted). */
  contactsRemoved: 'ContactsRemoved',
  /** avatar: an upload published resized and recorded on the customer. */
  avatarsPublished: 'AvatarsPublished',
  /** avatar: a deleted customer's avatars erased. */
  avatarsErased: 'AvatarsErased',
  /** Every record a consumer or the publisher was handed (SQS messages, stream records). */
  recordsReceived: 'RecordsReceived',
  /** Records reported failed (to be retried), or given up on (the publisher's unpublishable). */
  recordsFailed: 'RecordsFailed',
} as const;

export type MetricName = (typeof METRICS)[keyof typeof METRICS];

/** The metrics that also carry `[service, FunctionVersion]`: what a canary's alarms read. */
export const CANARY_METRICS: readonly MetricName[] = [
  METRICS.recordsReceived,
  METRICS.recordsFailed,
  METRICS.answers2xx,
  METRICS.answers3xx,
  METRICS.answers4xx,
  METRICS.answers5xx,
];

/**
 * Why a record failed, the `reason` dimension of `RecordsFailed`: a closed set, so the
 * dimension's values (each a metric CloudWatch bills) stay few.
 * - `Malformed`: not what the handler can read (it ends in the dead-letter queue).
 * - `Busy`: throttled, or a conflicting transaction, after the SDK's and our retries.
 * - `Unavailable`: an AWS service or the provider failed (5xx, network).
 * - `InFlight`: another attempt holds the work (the welcome's claim); retried later.
 * - `HeldBehindFailure`: not processed, behind a failed record it must not overtake (a FIFO
 *   group's later records; the publisher's records after the one that failed).
 * - `Unpublishable`: a stream record the publisher wrote to the failure bucket and skipped.
 * - `Unexpected`: anything else, a bug or a misconfiguration above all.
 */
export const FAILURE_REASONS = [
  'Malformed',
  'Busy',
  'Unavailable',
  'InFlight',
  'HeldBehindFailure',
  'Unpublishable',
  'Unexpected',
] as const;

export type FailureReason = (typeof FAILURE_REASONS)[number];

/** The alias every invoker calls under canary deploys, and CodeDeploy shifts. */
export const LIVE_ALIAS = 'live';
