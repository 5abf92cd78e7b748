/**
 * `npm run demo`: walks three customers through the running local cloud (create, rename,
 * opt out, delete) and shows what each consumer made of it, once the pipeline has settled.
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { HeadObjectCommand, ListObjectVersionsCommand, S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import {
  type ApiResponse,
  callApi,
  DEFAULT_STATE_FILE,
  emulatorClientConfig,
  type LocalCloudState,
  readLocalCloudState,
  sleep,
} from 'cdk-local-cloud';
import * as z from 'zod';
import { archiveKey, contactKey } from '../lambda/shared/contract';
import {
  type Customer,
  type CustomerInput,
  customerSchema,
} from '../lambda/shared/domain/customer';
import { deletionVersion } from '../lambda/shared/domain/deletion';
import { marketingConsentOf } from '../lambda/shared/domain/events';
import { marketingConsentKey } from '../lambda/shared/domain/keys';
import { type CommandIo, runAsCommand } from '../ops/command';
import { namedResourceOf, openTarget, type StackTarget } from '../ops/stack-target';
import { sinkCalls } from './notification-sink';

export const USAGE = `usage: npm run demo -- [options]

Creates, updates and deletes customers through the running local cloud's API (start it
with \`npm start\` in another terminal), then shows what the welcome, archive and
marketing consumers did for each of them.

  --state-file <file>   the local cloud's state (default: $LOCAL_CLOUD_STATE or ${DEFAULT_STATE_FILE})
  --timeout <seconds>   how long to wait for the pipeline to settle (default 60)`;

const DEFAULT_TIMEOUT_MS = 60_000;
const POLL_INTERVAL_MS = 500;

// ---- what the demo did to a customer -------------------------------------------------------

type ConsentChange = { readonly consent: 'granted' | 'revoked'; readonly version: number };

export interface CustomerHistory {
  readonly id: string;
  /** The name after the last write: what the customer is called in the report. */
  readonly fullName: string;
  /** What the demo did, in order, e.g. `created (opted in)`, `renamed`. */
  readonly steps: readonly string[];
  /** The customer's version after its last write (one per create or update). */
  readonly version: number;
  readonly optedIn: boolean;
  readonly deleted: boolean;
  /**
   * The newest change the marketing consumer is sent (its filter passes `granted` and
   * `revoked` only), with the version its consent record holds for it; none if it never
   * was. After a deletion, the tombstone the deletion leaves in that record.
   */
  readonly consentChange?: ConsentChange;
}

const consentChange = (
  before: Customer | undefined,
  after: Customer | undefined,
  version: number,
): ConsentChange | undefined => {
  const consent = marketingConsentOf(before, after);
  return consent === 'none' ? undefined : { consent, version };
};

export const createdHistory = (customer: Customer): CustomerHistory => ({
  id: customer.id,
  fullName: customer.fullName,
  steps: [customer.marketingOptIn ? 'created (opted in)' : 'created (not opted in)'],
  version: customer.version,
  optedIn: customer.marketingOptIn,
  deleted: false,
  consentChange: consentChange(undefined, customer, customer.version),
});

export const updatedHistory = (
  history: CustomerHistory,
  before: Customer,
  after: Customer,
  step: string,
): CustomerHistory => ({
  ...history,
  fullName: after.fullName,
  steps: [...history.steps, step],
  version: after.version,
  optedIn: after.marketingOptIn,
  consentChange: consentChange(before, after, after.version) ?? history.consentChange,
});

export const deletedHistory = (history: CustomerHistory, before: Customer): CustomerHistory => ({
  ...history,
  steps: [...history.steps, 'deleted'],
  deleted: true,
  // Opted in or not, the deletion leaves its tombstone, just after the version it removed.
  consentChange: { consent: 'revoked', version: deletionVersion(before.version) },
});

// ---- what the pipeline did, as observed ----------------------------------------------------

export interface WelcomeCall {
  readonly idempotencyKey?: string;
  readonly status: number;
}

/** The versions S3 keeps of one key. */
export interface KeyVersions {
  readonly versions: number;
  readonly deleteMarkers: number;
  readonly latestIsDeleteMarker: boolean;
}

export interface ObservedCustomer {
  /** The notification sink's calls about this customer, oldest first. */
  readonly welcomeCalls: readonly WelcomeCall[];
  /**
   * The welcome queue held nothing, looked at after the archive: SNS delivers an event to
   * every queue at once, so once the archive shows one, the welcome queue has had the
   * creation, and an empty queue means the welcome consumer is done with it, sent or not.
   */
  readonly welcomeQueueEmpty: boolean;
  readonly archive: KeyVersions & {
    /** The customer version the latest archived object holds (its `version` metadata). */
    readonly latestCustomerVersion?: number;
    /** The latest archived object is the deleted customer's tombstone version. */
    readonly latestIsTombstone?: boolean;
  };
  readonly contact: KeyVersions;
  /** The consent record: the newest consent change applied, or the tombstone. */
  readonly consentRecord?: ConsentChange;
}

const plural = (count: number, word: string): string => `${count} ${word}${count === 1 ? '' : 's'}`;

const shortKey = (key: string | undefined): string =>
  key === undefined ? 'no Idempotency-Key' : `Idempotency-Key ${key.slice(0, 8)}…`;

const accepted = (calls: readonly WelcomeCall[]): readonly WelcomeCall[] =>
  calls.filter((call) => call.status >= 200 && call.status < 300);

/** The archive has had an event of this customer, so every consumer queue has had its creation. */
const archiveSeenAny = ({ archive }: ObservedCustomer): boolean =>
  archive.versions + archive.deleteMarkers > 0;

const archiveSettled = (history: CustomerHistory, observed: ObservedCustomer): boolean =>
  history.deleted
    ? observed.archive.latestIsTombstone === true
    : observed.archive.latestCustomerVersion === history.version;

/** What the pipeline has still to do for this customer; empty once it has settled. */
export const missing = (history: CustomerHistory, observed: ObservedCustomer): string[] => {
  const gaps: string[] = [];
  if (accepted(observed.welcomeCalls).length === 0) {
    if (!history.deleted) {
      gaps.push('welcome notification');
    } else if (!(archiveSeenAny(observed) && observed.welcomeQueueEmpty)) {
      // A deleted customer may or may not have been welcomed first: wait for the consumer.
      gaps.push('welcome consumer to finish with the creation');
    }
  }
  if (!archiveSettled(history, observed)) {
    gaps.push(
      history.deleted ? 'archive tombstone' : `archive of customer version ${history.version}`,
    );
  }
  const change = history.consentChange;
  const record = observed.consentRecord;
  const { contact } = observed;
  if (change === undefined) {
    if (contact.versions + contact.deleteMarkers > 0) gaps.push('no marketing contact');
  } else if (record?.consent !== change.consent || record.version !== change.version) {
    gaps.push(`marketing consent ${change.consent} at version ${change.version}`);
  } else if (
    change.consent === 'granted' &&
    (contact.versions === 0 || contact.latestIsDeleteMarker)
  ) {
    gaps.push('marketing contact');
  } else if (change.consent === 'revoked' && contact.versions + contact.deleteMarkers > 0) {
    gaps.push('marketing contact removed for good');
  }
  return gaps;
};

/** Whether the pipeline has finished with this customer. */
export const settled = (history: CustomerHistory, observed: ObservedCustomer): boolean =>
  missing(history, observed).length === 0;

const describeWelcome = (history: CustomerHistory, calls: readonly WelcomeCall[]): string => {
  const sent = accepted(calls);
  const failed = calls.length - sent.length;
  const retried = failed > 0 ? `, after ${plural(failed, 'failed attempt')}` : '';
  if (sent.length === 0) {
    if (history.deleted) return `welcome: none (deleted before it could be welcomed${retried})`;
    return `welcome: nothing sent yet${failed > 0 ? ` (${plural(failed, 'failed attempt')})` : ''}`;
  }
  const keys = [...new Set(sent.map((call) => call.idempotencyKey))];
  const repeated =
    sent.length > keys.length ? `, ${sent.length - keys.length} repeated with the same key` : '';
  return `welcome: ${plural(keys.length, 'notification')} sent (${keys.map(shortKey).join(', ')})${repeated}${retried}`;
};

const describeArchive = (archive: ObservedCustomer['archive']): string => {
  const total = archive.versions + archive.deleteMarkers;
  if (total === 0) return 'archive: nothing yet';
  const latest = archive.latestIsTombstone
    ? 'the tombstone'
    : archive.latestIsDeleteMarker
      ? 'a delete marker'
      : `customer version ${archive.latestCustomerVersion ?? '?'}`;
  return `archive: ${plural(total, 'version')}, latest is ${latest}`;
};

const describeMarketing = (history: CustomerHistory, contact: KeyVersions): string => {
  const present = contact.versions > 0 && !contact.latestIsDeleteMarker;
  const entries = contact.versions + contact.deleteMarkers;
  if (history.deleted) {
    return entries === 0
      ? 'marketing: no contact (deleted; the consent record is its tombstone)'
      : `marketing: deleted, yet the contact has ${plural(entries, 'version')}`;
  }
  if (history.consentChange === undefined) {
    return entries === 0
      ? 'marketing: never opted in'
      : `marketing: never opted in, yet the contact has ${plural(entries, 'version')}`;
  }
  if (history.consentChange.consent === 'revoked') {
    return entries === 0
      ? 'marketing: no contact (consent revoked, every version removed)'
      : `marketing: consent revoked, ${plural(entries, 'contact version')} still there`;
  }
  return present
    ? `marketing: contact kept (${plural(contact.versions, 'version')})`
    : 'marketing: opted in, no contact yet';
};

/** The report on one customer: a heading, then one line per consumer. */
export const describeCustomer = (
  history: CustomerHistory,
  observed: ObservedCustomer,
): string[] => [
  `${history.fullName} (${history.id}): ${history.steps.join(', ')}`,
  `  ${describeWelcome(history, observed.welcomeCalls)}`,
  `  ${describeArchive(observed.archive)}`,
  `  ${describeMarketing(history, observed.contact)}`,
];

// ---- the running local cloud ---------------------------------------------------------------

interface Cloud {
  readonly state: LocalCloudState;
  readonly target: StackTarget;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly documents: DynamoDBDocumentClient;
  readonly assetsBucket: string;
  readonly contactsBucket: string;
  readonly table: string;
  readonly welcomeQueueUrl: string;
}

const connect = async (state: LocalCloudState, target: StackTarget): Promise<Cloud> => {
  const config = emulatorClientConfig(state);
  return {
    state,
    target,
    // Path-style: a bucket subdomain of 127.0.0.1 resolves nowhere.
    s3: new S3Client({ ...config, forcePathStyle: true }),
    sqs: new SQSClient(config),
    documents: DynamoDBDocumentClient.from(new DynamoDBClient(config)),
    assetsBucket: await namedResourceOf(target, 'assets', 'bucket'),
    contactsBucket: await namedResourceOf(target, 'marketing-contacts', 'bucket'),
    table: await namedResourceOf(target, 'customers', 'table'),
    welcomeQueueUrl: await namedResourceOf(target, 'welcome', 'queue'),
  };
};

const disconnect = (cloud: Cloud): void => {
  cloud.s3.destroy();
  cloud.sqs.destroy();
  cloud.documents.destroy();
};

// ---- the API calls -------------------------------------------------------------------------

interface Written {
  readonly customer: Customer;
  readonly etag: string;
}

/** Calls the API and insists on the `expected` status. */
const request = async (
  cloud: Cloud,
  method: string,
  route: string,
  expected: number,
  { body, ifMatch }: { body?: CustomerInput; ifMatch?: string } = {},
): Promise<ApiResponse> => {
  const response = await callApi(
    cloud,
    method,
    route,
    body,
    ifMatch === undefined ? {} : { 'if-match': ifMatch },
  );
  if (response.status !== expected) {
    throw new Error(
      `${method} ${route} answered ${response.status}, not ${expected}: ${JSON.stringify(response.body)}`,
    );
  }
  return response;
};

const written = (response: ApiResponse): Written => ({
  customer: customerSchema.parse(response.body),
  etag: response.headers.get('etag') ?? '',
});

const inputOf = (customer: Customer): CustomerInput => ({
  fullName: customer.fullName,
  email: customer.email,
  dateOfBirth: customer.dateOfBirth,
  marketingOptIn: customer.marketingOptIn,
  ...(customer.gitHubUsername !== undefined && { gitHubUsername: customer.gitHubUsername }),
});

const create = async (cloud: Cloud, input: CustomerInput): Promise<Written> =>
  written(await request(cloud, 'POST', '/customers', 201, { body: input }));

const replace = async (cloud: Cloud, current: Written, input: CustomerInput): Promise<Written> =>
  written(
    await request(cloud, 'PUT', `/customers/${current.customer.id}`, 200, {
      body: input,
      ifMatch: current.etag,
    }),
  );

const remove = async (cloud: Cloud, current: Written): Promise<void> => {
  await request(cloud, 'DELETE', `/customers/${current.customer.id}`, 204, {
    ifMatch: current.etag,
  });
};

// ---- observing the pipeline ----------------------------------------------------------------

const keyVersions = async (cloud: Cloud, bucket: string, key: string): Promise<KeyVersions> => {
  // A demo customer's key has a handful of versions: the first page (up to 1000) holds them all.
  const page = await cloud.s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
  const versions = (page.Versions ?? []).filter((entry) => entry.Key === key);
  const markers = (page.DeleteMarkers ?? []).filter((entry) => entry.Key === key);
  return {
    versions: versions.length,
    deleteMarkers: markers.length,
    latestIsDeleteMarker: markers.some((marker) => marker.IsLatest === true),
  };
};

const observeArchive = async (
  cloud: Cloud,
  customerId: string,
): Promise<ObservedCustomer['archive']> => {
  const key = archiveKey(customerId);
  const versions = await keyVersions(cloud, cloud.assetsBucket, key);
  if (versions.versions === 0 || versions.latestIsDeleteMarker) return versions;
  // The archive consumer records the customer version in the object's metadata, and
  // marks the deleted customer's tombstone there.
  const head = await cloud.s3.send(new HeadObjectCommand({ Bucket: cloud.assetsBucket, Key: key }));
  if (head.Metadata?.deleted === 'true') return { ...versions, latestIsTombstone: true };
  const version = Number(head.Metadata?.version);
  return Number.isInteger(version) ? { ...versions, latestCustomerVersion: version } : versions;
};

const consentRecordSchema = z.object({
  consent: z.enum(['granted', 'revoked']),
  version: z.number(),
});

const observeConsentRecord = async (
  cloud: Cloud,
  customerId: string,
): Promise<ConsentChange | undefined> => {
  const { Item } = await cloud.documents.send(
    new GetCommand({
      TableName: cloud.table,
      Key: marketingConsentKey(customerId),
      ConsistentRead: true,
    }),
  );
  const record = consentRecordSchema.safeParse(Item);
  return record.success ? record.data : undefined;
};

const welcomeQueueEmpty = async (cloud: Cloud): Promise<boolean> => {
  const { Attributes = {} } = await cloud.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: cloud.welcomeQueueUrl,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  return Object.values(Attributes).every((count) => Number(count) === 0);
};

const welcomeCallsByCustomer = async (cloud: Cloud): Promise<Map<string, WelcomeCall[]>> => {
  const calls = await sinkCalls(cloud);
  const byCustomer = new Map<string, WelcomeCall[]>();
  for (const call of calls) {
    const customerId = z.object({ customerId: z.string() }).safeParse(call.body).data?.customerId;
    if (customerId === undefined) continue;
    const entry: WelcomeCall = { idempotencyKey: call.idempotencyKey, status: call.status };
    byCustomer.set(customerId, [...(byCustomer.get(customerId) ?? []), entry]);
  }
  return byCustomer;
};

/**
 * One look at everything the consumers did for these customers. The archive is read
 * before the welcome queue, and the queue before the sink, so that what `missing` infers
 * from their order holds.
 */
const observe = async (
  cloud: Cloud,
  histories: readonly CustomerHistory[],
): Promise<ObservedCustomer[]> => {
  const stores = await Promise.all(
    histories.map(async ({ id }) => ({
      archive: await observeArchive(cloud, id),
      contact: await keyVersions(cloud, cloud.contactsBucket, contactKey(id)),
      consentRecord: await observeConsentRecord(cloud, id),
    })),
  );
  const queueEmpty = await welcomeQueueEmpty(cloud);
  const calls = await welcomeCallsByCustomer(cloud);
  return histories.map((history, index) => ({
    ...(stores[index] as (typeof stores)[number]),
    welcomeQueueEmpty: queueEmpty,
    welcomeCalls: calls.get(history.id) ?? [],
  }));
};

// ---- the demo ------------------------------------------------------------------------------

export interface DemoOptions {
  /** @default 60000 */
  readonly timeoutMs?: number;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** Runs the demo against a running local cloud; resolves to the exit code (0 settled, 1 not). */
export const runDemo = async (
  state: LocalCloudState,
  target: StackTarget,
  out: (line: string) => void,
  options: DemoOptions = {},
): Promise<number> => {
  const cloud = await connect(state, target);
  try {
    // Emails are unique per run, so the demo can run again against the same cloud.
    const run = Date.now().toString(36);
    const email = (name: string) => `${name}.${run}@example.com`;
    out(`local cloud ${state.stackName}: API ${state.apiUrl}`);
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    /** Polls until every history is settled; prints what each consumer did either way. */
    const waitUntilSettled = async (histories: readonly CustomerHistory[]): Promise<boolean> => {
      const startedAt = Date.now();
      for (;;) {
        const observed = await observe(cloud, histories);
        const done = histories.every((history, index) =>
          settled(history, observed[index] as ObservedCustomer),
        );
        const elapsed = Date.now() - startedAt;
        if (done || elapsed > timeoutMs) {
          out(
            done ? `   settled in ${seconds(elapsed)}` : `   not settled after ${seconds(elapsed)}`,
          );
          histories.forEach((history, index) => {
            const seen = observed[index] as ObservedCustomer;
            for (const line of describeCustomer(history, seen)) out(line);
            const gaps = missing(history, seen);
            if (gaps.length > 0) out(`  still missing: ${gaps.join('; ')}`);
          });
          return done;
        }
        await sleep(POLL_INTERVAL_MS);
      }
    };

    out('1. creating three customers');
    const ada = await create(cloud, {
      fullName: 'Ada Lovelace',
      email: email('ada'),
      dateOfBirth: '1815-12-10',
      marketingOptIn: true,
      gitHubUsername: 'ada-lovelace',
    });
    const grace = await create(cloud, {
      fullName: 'Grace Hopper',
      email: email('grace'),
      dateOfBirth: '1906-12-09',
      marketingOptIn: true,
    });
    const alan = await create(cloud, {
      fullName: 'Alan Turing',
      email: email('alan'),
      dateOfBirth: '1912-06-23',
      marketingOptIn: false,
    });
    for (const { customer, etag } of [ada, grace, alan]) {
      const consent = customer.marketingOptIn ? 'opted in' : 'not opted in';
      out(`   created ${customer.fullName} (${consent}): ${customer.id}, ETag ${etag}`);
    }
    let adaHistory = createdHistory(ada.customer);
    let graceHistory = createdHistory(grace.customer);
    let alanHistory = createdHistory(alan.customer);
    // One step at a time, as a person would use it.
    out(`   waiting for the creations to reach every consumer (up to ${seconds(timeoutMs)})`);
    if (!(await waitUntilSettled([adaHistory, graceHistory, alanHistory]))) return 1;

    out('2. updating two of them');
    const renamed = await replace(cloud, ada, { ...inputOf(ada.customer), fullName: 'Ada King' });
    out(`   renamed Ada Lovelace to ${renamed.customer.fullName}: ETag ${renamed.etag}`);
    adaHistory = updatedHistory(adaHistory, ada.customer, renamed.customer, 'renamed');
    const optedOut = await replace(cloud, grace, {
      ...inputOf(grace.customer),
      marketingOptIn: false,
    });
    out(`   opted ${grace.customer.fullName} out of marketing: ETag ${optedOut.etag}`);
    graceHistory = updatedHistory(graceHistory, grace.customer, optedOut.customer, 'opted out');

    out('3. deleting one');
    await remove(cloud, alan);
    out(`   deleted ${alan.customer.fullName} (If-Match ${alan.etag})`);
    alanHistory = deletedHistory(alanHistory, alan.customer);

    out(`4. waiting for the pipeline to settle (up to ${seconds(timeoutMs)})`);
    return (await waitUntilSettled([adaHistory, graceHistory, alanHistory])) ? 0 : 1;
  } finally {
    disconnect(cloud);
  }
};

// ---- the command ---------------------------------------------------------------------------

/** `npm run demo -- <argv>`; resolves to the exit code (0 settled, 1 failure, 2 usage). */
export const runDemoCommand = async (argv: readonly string[], io: CommandIo): Promise<number> => {
  let values: { 'state-file'?: string; timeout?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        'state-file': { type: 'string' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    io.err(`demo: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  const timeoutSeconds = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeoutSeconds !== undefined && !(Number.isFinite(timeoutSeconds) && timeoutSeconds > 0)) {
    io.err(`demo: --timeout must be a positive number of seconds\n\n${USAGE}`);
    return 2;
  }
  const stateFile = path.resolve(
    io.cwd,
    values['state-file'] ?? io.env.LOCAL_CLOUD_STATE ?? DEFAULT_STATE_FILE,
  );
  try {
    const state = await readLocalCloudState(stateFile);
    const target = await openTarget({ 'state-file': stateFile }, io);
    return await runDemo(state, target, io.out, {
      timeoutMs: timeoutSeconds === undefined ? undefined : timeoutSeconds * 1000,
    });
  } catch (error) {
    io.err(`demo: ${(error as Error).message}`);
    return 1;
  }
};

if (require.main === module) runAsCommand(runDemoCommand);
