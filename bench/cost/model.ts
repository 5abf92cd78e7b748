import * as fs from 'node:fs';
import * as path from 'node:path';
import * as z from 'zod';
import type { Ordering } from '../../lib/config';
import type { Action, ActionCalls, PipelineResult } from '../pipeline';
import { AVATAR_UPLOAD } from '../pipeline/calls';
import type { MappingConfig } from '../pipeline/template';

/**
 * The bill for a million customers, from what the pipeline benchmark counted and
 * timed, the memory and architecture the template gives each function, and list
 * prices (bench/cost/prices.json). Pure: no AWS, no clock. Beside it, the same pipeline
 * with the default choices: x86_64, one SNS Publish per record, SQS batches of one. Either
 * ordering can be billed: `perCustomer` at SNS FIFO's and SQS FIFO's prices, with the
 * mappings of a `perCustomer` template (the ordering section reads them from its cloud).
 */
const usd = z.number().nonnegative();
export const pricesSchema = z.looseObject({
  readOn: z.string(),
  region: z.string(),
  currency: z.literal('USD'),
  source: z.string(),
  lambda: z.looseObject({
    requestsPerMillion: usd,
    gbSecond: z.looseObject({ arm64: usd, x86_64: usd }),
  }),
  sns: z.looseObject({
    publishRequestsPerMillion: usd,
    requestChunkKB: z.number().positive(),
    sqsDeliveriesPerMillion: usd,
    payloadFilteringPerGB: usd,
    /** A FIFO topic bills payload bytes too, published and delivered, beside its requests. */
    fifo: z.looseObject({
      publishRequestsPerMillion: usd,
      publishPayloadPerGB: usd,
      sqsDeliveriesPerMillion: usd,
      deliveryPayloadPerGB: usd,
      payloadFilteringPerGB: usd,
    }),
  }),
  sqs: z.looseObject({
    standardRequestsPerMillion: usd,
    fifoRequestsPerMillion: usd,
    requestChunkKB: z.number().positive(),
  }),
  dynamodb: z.looseObject({ writeRequestUnitsPerMillion: usd, readRequestUnitsPerMillion: usd }),
  s3: z.looseObject({
    putCopyPostListPerThousand: usd,
    getHeadAndOtherPerThousand: usd,
    deletePerThousand: usd,
  }),
  secretsManager: z.looseObject({ apiCallsPer10k: usd }),
  apiGateway: z.looseObject({ httpApiRequestsPerMillion: usd }),
  cloudWatchLogs: z.looseObject({ ingestionPerGB: usd }),
});
export type Prices = z.infer<typeof pricesSchema>;

export const loadPrices = (file = path.join(__dirname, 'prices.json')): Prices =>
  pricesSchema.parse(JSON.parse(fs.readFileSync(file, 'utf8')));

// ---------------------------------------------------------------------------
// Assumptions where nothing was measured, each stated in the rendered section.
// ---------------------------------------------------------------------------

/** The steady load of the main bill (AWS's, not the emulator's): a million customers in 14 hours. */
export const STEADY_PER_SECOND = 20;
/** Handler time outside its AWS calls (parsing, validation, logging), per invocation. */
export const OUTSIDE_CALLS_MS = 2;
/** Lambda's own JSON log records per invocation (platform.start and platform.report, with X-Ray). */
export const PLATFORM_LOG_BYTES = 600;
/** A customer event on the topic: a customer of ~350 B, twice for an update (`previous`). */
export const EVENT_KB = 1;
/** The welcome function caches the secret this long per execution environment. */
export const SECRET_CACHE_SECONDS = 300;
/** Welcome execution environments kept warm: at these rates one handles every batch. */
export const WELCOME_ENVIRONMENTS = 1;
/** Subscriptions whose filter policy reads the message body (marketing). */
const BODY_FILTERED_SUBSCRIPTIONS = 1;
/** Customers who upload an avatar in their lifecycle (one each): the rest never do. */
export const AVATAR_UPLOAD_SHARE = 0.3;

export const ASSUMPTIONS: readonly string[] = [
  'Every item is under 1 KB (a customer is ~350 B): 1 WRU per write, 2 per transactional item, a ConditionCheck included; strongly consistent reads and queries 1 RRU (under 4 KB).',
  `Lambda duration per record: the span of its AWS calls measured locally (first call's start to last call's end, the provider POST included) plus ${OUTSIDE_CALLS_MS} ms per invocation outside them, rounded up to the ms per invocation; the same on x86_64 as on arm64. Records of a batch are timed one after another (archive and marketing process them so; welcome runs them in parallel, so its figure is an upper bound). moto answers faster than S3 does, so S3-bound functions are likely under-timed.`,
  `Lambda platform log records: ${PLATFORM_LOG_BYTES} B per invocation; the handlers' own log lines are measured.`,
  `Events are ~${EVENT_KB} KB: a PublishBatch of 10 and an SQS batch of 10 stay within one 64 KB request chunk; the marketing subscription's body filter scans each.`,
  'Steady load: a queue or stream receiving r records/s fills batches of min(batch size, r × batching window); the same rate at every function. AWS runs several pollers per queue, so real batches are often smaller: this is the design’s best case. Alone: every batch holds one record.',
  'Each SQS batch costs one ReceiveMessage and one DeleteMessageBatch (alone: one DeleteMessage); the pollers’ idle long polling is a fixed cost, not per customer. SNS’s deliveries to SQS and Lambda’s stream reads are free.',
  'S3 DeleteObjects (a POST; marketing deletes every version of a contact with it) is counted as a PUT-class request, the conservative side; single DELETEs are free.',
  'All customers opt in when created (the measured path: marketing writes a contact).',
  `${(100 * AVATAR_UPLOAD_SHARE).toFixed(0)}% of customers upload one avatar in their lifecycle: a ${AVATAR_UPLOAD.width} × ${AVATAR_UPLOAD.height} ${AVATAR_UPLOAD.format.toUpperCase()} photo (~300 KB), the pipeline's measured upload. Each costs what the pipeline counted: the form (an API request, the avatar-upload function's GetItem), the browser's POST to S3 (a PUT-class request), the avatar function's reads, write, record and delete, and the CustomerUpdated it causes (published, archived); S3's notification to the uploads queue is free, the queue's receive and delete are not (batches of one). The avatar function's duration is its measured span, the resize on this machine's core included: Lambda gives 1024 MB 0.58 of a vCPU, and a 12 MP photo takes about ten times as long (the avatar section), so its GB-seconds are likely under-counted. Every deleted customer's avatars are erased (two LISTs); only an uploader's take a DeleteObjects.`,
  `Secrets Manager: one GetSecretValue per welcome execution environment (${WELCOME_ENVIRONMENTS} assumed) every ${SECRET_CACHE_SECONDS} s of the run, not per customer; one at a time means one customer a second.`,
];

/** What a `perCustomer` bill assumes beside `ASSUMPTIONS`, each stated where it is rendered. */
export const FIFO_ASSUMPTIONS: readonly string[] = [
  'perCustomer: a FIFO consumer’s event source has no batching window, so under the steady-load batch model (min(batch size, r × window), floored at 1) its batch is one record at any rate. Without a window Lambda invokes as soon as a receive returns, so at 20/s batches are mostly single records; the conservative side (a backlog would fill them up to 10).',
  'perCustomer: the publisher batches as before. No PublishBatch holds two events of one customer, but each modelled action yields one event per customer, so a stream batch of n records is still ⌈n/10⌉ PublishBatch calls.',
  `perCustomer: SNS FIFO bills each publish request (per 64 KB) and the payload published per GB, and each message it delivers to an SQS FIFO queue (a subscription message: what the pipeline counted as messages per queue) and its payload per GB; events ~${EVENT_KB} KB. The marketing subscription’s body filter is priced as on a standard topic: not known to differ.`,
  'perCustomer: the consumer queues’ receives and deletes at SQS FIFO’s request price; the avatar uploads queue stays standard (S3 cannot notify a FIFO queue) and is billed as standard. The calls per action are those the pipeline section counted on a standard cloud: the handlers make the same calls per event in either ordering.',
];

export const NOT_COUNTED: readonly string[] = [
  'X-Ray traces (active tracing on every function: $5.00 per million traces recorded; the default sampling keeps the first request each second and 5% of the rest)',
  'KMS requests of the encrypted topic (SNS reuses data keys, a few requests per 5 minutes)',
  'storage: S3 versions (the archive keeps every one; replaced avatars expire), DynamoDB items and point-in-time recovery',
  'serving avatars (GET /customers/{id}/avatar: an API request, the avatar function, a GetItem, then the S3 GET and its data transfer out), which scales with views, not customers',
  'fixed monthly costs: the secret, KMS keys, alarms, the dashboard, the pollers’ idle long polling',
];

// ---------------------------------------------------------------------------
// Units per call, from the handlers.
// ---------------------------------------------------------------------------

interface Units {
  readonly wru: number;
  readonly rru: number;
}

/** DynamoDB units of one call, by action, function and operation (the item counts are the code's). */
const DYNAMODB_UNITS: Readonly<Record<string, Units>> = {
  // profile + email claim, 2 WRU each
  'create api TransactWriteItems': { wru: 4, rru: 0 },
  // the profile alone (the email is unchanged): a transaction of one item, billed double
  'update api TransactWriteItems': { wru: 2, rru: 0 },
  // profile + email claim + welcome claim deleted, the tombstone put
  'delete api TransactWriteItems': { wru: 8, rru: 0 },
  // condition check on the profile + put of the claim
  'create welcome TransactWriteItems': { wru: 4, rru: 0 },
  // the consent record and the profile, strongly consistent
  'create marketing BatchGetItem': { wru: 0, rru: 2 },
  // the same, for the update an avatar upload makes (the customer still opted in)
  'avatar marketing BatchGetItem': { wru: 0, rru: 2 },
  // an opt-out: condition check on the profile + put of the record
  'update marketing TransactWriteItems': { wru: 4, rru: 0 },
};

const DYNAMODB_DEFAULT_UNITS: Readonly<Record<string, Units>> = {
  GetItem: { wru: 0, rru: 1 },
  Query: { wru: 0, rru: 1 },
  PutItem: { wru: 1, rru: 0 },
  UpdateItem: { wru: 1, rru: 0 },
  DeleteItem: { wru: 1, rru: 0 },
  TransactWriteItems: { wru: 4, rru: 0 },
  TransactGetItems: { wru: 0, rru: 4 },
};

export const dynamodbUnits = (action: Action, fn: string, operation: string): Units =>
  DYNAMODB_UNITS[`${action} ${fn} ${operation}`] ??
  DYNAMODB_DEFAULT_UNITS[operation] ?? { wru: 1, rru: 0 };

/** S3's request classes: LIST goes with PUT; HEAD with GET; DELETE is free. */
export const s3Class = (operation: string): 'tier1' | 'tier2' | 'free' => {
  if (operation === 'DeleteObject') return 'free';
  if (operation.startsWith('Get') || operation === 'HeadObject' || operation === 'HeadBucket') {
    return 'tier2';
  }
  // PUT, COPY, POST and LIST, DeleteObjects (a POST) counted here: the conservative side.
  return 'tier1';
};

// ---------------------------------------------------------------------------
// The bill.
// ---------------------------------------------------------------------------

export type Design = 'ours' | 'default';
/** A million customers created; a million avatar uploads; a million customers' whole lifecycles. */
export type Workload = 'create' | 'avatar' | 'lifecycle';

export interface LoadModel {
  readonly label: string;
  /** Customers per second, the same rate of records at every function. */
  readonly perSecond: number;
  /** False: customers spaced out so that every batch holds one record. */
  readonly batched: boolean;
}

export interface LineItem {
  readonly item: string;
  /** Per million customers. */
  readonly quantity: number;
  readonly unit: string;
  readonly usd: number;
}

export interface Bill {
  readonly design: Design;
  readonly workload: Workload;
  readonly load: string;
  readonly lines: readonly LineItem[];
  readonly totalUsd: number;
}

/** The actions of each workload, with the share of its customers who take each. */
export const WORKLOAD_ACTIONS: Readonly<
  Record<Workload, readonly { readonly action: Action; readonly share: number }[]>
> = {
  create: [{ action: 'create', share: 1 }],
  avatar: [{ action: 'avatar', share: 1 }],
  lifecycle: [
    { action: 'create', share: 1 },
    { action: 'avatar', share: AVATAR_UPLOAD_SHARE },
    { action: 'update', share: 1 },
    { action: 'delete', share: 1 },
  ],
};

/** The function behind each action's API request. */
const API_FUNCTION: Readonly<Record<Action, string>> = {
  create: 'api',
  avatar: 'avatar-upload',
  update: 'api',
  delete: 'api',
};

/**
 * Calls a deletion makes only for a customer who uploaded an avatar (the measured one did):
 * weighted by the workload's share of uploaders. The erase's LISTs are everyone's.
 */
export const ONLY_WITH_AVATAR: ReadonlySet<string> = new Set(['delete avatar s3 DeleteObjects']);

const MILLION = 1_000_000;

/** Records per invocation through `mapping` under `load` and `design`. */
export const batchSize = (mapping: MappingConfig, design: Design, load: LoadModel): number => {
  if (!load.batched) return 1;
  const max = design === 'default' && mapping.source === 'sqs' ? 1 : mapping.batchSize;
  return Math.min(max, Math.max(1, load.perSecond * mapping.windowSeconds));
};

const countOf = (calls: ActionCalls, fn: string, service: string, operation: string): number =>
  calls.rows.find((r) => r.fn === fn && r.service === service && r.operation === operation)
    ?.median ?? 0;

interface Tally {
  apiRequests: number;
  lambdaRequests: number;
  gbSeconds: number;
  snsRequests: number;
  scannedGB: number;
  /** A FIFO topic's payload, published and delivered, and its subscription messages. */
  publishedGB: number;
  snsDeliveries: number;
  deliveredGB: number;
  sqsRequests: number;
  sqsFifoRequests: number;
  wru: number;
  rru: number;
  s3Tier1: number;
  s3Tier2: number;
  s3Free: number;
  secretCalls: number;
  logBytes: number;
}

/** What invokes a function in one action: records per customer, and how many per invocation. */
interface Invocations {
  readonly fn: string;
  readonly records: number;
  readonly batch: number;
  readonly source: 'api' | 'stream' | 'sqs';
  /** An SQS FIFO queue, fed by the FIFO topic. */
  readonly fifo: boolean;
}

/** Every function invoked in `calls`, through the API, the stream and each queue. */
export const invocationsOf = (
  pipeline: PipelineResult,
  calls: ActionCalls,
  design: Design,
  load: LoadModel,
): Invocations[] => {
  const published =
    countOf(calls, 'stream-publisher', 'sns', 'PublishBatch') +
    countOf(calls, 'stream-publisher', 'sns', 'Publish');
  const invoked: Invocations[] = [
    { fn: API_FUNCTION[calls.action], records: 1, batch: 1, source: 'api', fifo: false },
  ];
  for (const mapping of pipeline.mappings) {
    const records =
      mapping.source === 'stream'
        ? published
        : (calls.deliveries.find((d) => d.queue === (mapping.queue ?? mapping.fn))?.messages
            .median ?? 0);
    if (records === 0) continue;
    invoked.push({
      fn: mapping.fn,
      records,
      batch: batchSize(mapping, design, load),
      source: mapping.source,
      fifo: mapping.fifo === true,
    });
  }
  return invoked;
};

/** What one customer costs in each unit, for the actions of `workload`. */
const tally = (
  pipeline: PipelineResult,
  design: Design,
  workload: Workload,
  load: LoadModel,
): { tally: Tally; gbSecondsByArch: Record<string, number> } => {
  const t: Tally = {
    apiRequests: 0,
    lambdaRequests: 0,
    gbSeconds: 0,
    snsRequests: 0,
    scannedGB: 0,
    publishedGB: 0,
    snsDeliveries: 0,
    deliveredGB: 0,
    sqsRequests: 0,
    sqsFifoRequests: 0,
    wru: 0,
    rru: 0,
    s3Tier1: 0,
    s3Tier2: 0,
    s3Free: 0,
    secretCalls: 0,
    logBytes: 0,
  };
  const gbSecondsByArch: Record<string, number> = {};
  const actions = WORKLOAD_ACTIONS[workload];
  const uploaders = actions.find((a) => a.action === 'avatar')?.share ?? 0;
  for (const { action, share } of actions) {
    const calls = pipeline.calls.actions.find((a) => a.action === action);
    if (calls === undefined) throw new Error(`the pipeline result has no ${action} calls`);
    t.apiRequests += share;

    for (const { fn, records, batch: b, source, fifo } of invocationsOf(
      pipeline,
      calls,
      design,
      load,
    )) {
      const f = pipeline.functions.find((candidate) => candidate.name === fn);
      if (f === undefined) throw new Error(`the pipeline result has no function ${fn}`);
      const invocations = (share * records) / b;
      const spanPerRecord = calls.spansMs.find((s) => s.fn === fn)?.span.median ?? 0;
      // PublishBatch sends ten records in one call; Publish one call per record.
      const workMs =
        fn === 'stream-publisher' && design === 'ours'
          ? Math.ceil(b / 10) * spanPerRecord
          : b * spanPerRecord;
      const billedMs = Math.ceil(workMs + OUTSIDE_CALLS_MS);
      const architecture = design === 'default' ? 'x86_64' : f.architecture;
      const gbs = invocations * (f.memoryMB / 1024) * (billedMs / 1000);
      t.lambdaRequests += invocations;
      t.gbSeconds += gbs;
      gbSecondsByArch[architecture] = (gbSecondsByArch[architecture] ?? 0) + gbs;
      t.logBytes += invocations * PLATFORM_LOG_BYTES;
      if (fn === 'stream-publisher') {
        t.snsRequests += design === 'ours' ? invocations * Math.ceil(b / 10) : share * records;
        t.scannedGB += (share * records * EVENT_KB * BODY_FILTERED_SUBSCRIPTIONS) / 1024 / 1024;
        t.publishedGB += (share * records * EVENT_KB) / 1024 / 1024;
      }
      if (source === 'sqs' && fifo) {
        // Only the FIFO topic fills a FIFO queue: each message in it was an SNS delivery.
        t.sqsFifoRequests += 2 * invocations;
        t.snsDeliveries += share * records;
        t.deliveredGB += (share * records * EVENT_KB) / 1024 / 1024;
      } else if (source === 'sqs') {
        t.sqsRequests += 2 * invocations;
      }
    }
    for (const { bytes } of calls.logBytes) t.logBytes += share * bytes;

    for (const row of calls.rows) {
      const n =
        share *
        row.median *
        (ONLY_WITH_AVATAR.has(`${action} ${row.fn} ${row.service} ${row.operation}`)
          ? uploaders
          : 1);
      if (row.service === 'dynamodb') {
        const units = dynamodbUnits(action, row.fn, row.operation);
        t.wru += units.wru * n;
        t.rru += units.rru * n;
      } else if (row.service === 's3') {
        const kind = s3Class(row.operation);
        if (kind === 'tier1') t.s3Tier1 += n;
        else if (kind === 'tier2') t.s3Tier2 += n;
        else t.s3Free += n;
      }
    }
  }
  // Not the measured count (a cold start reads it): the welcome function caches the secret.
  if (actions.some((a) => a.action === 'create')) {
    t.secretCalls += WELCOME_ENVIRONMENTS / load.perSecond / SECRET_CACHE_SECONDS;
  }
  return { tally: t, gbSecondsByArch };
};

const line = (item: string, perCustomer: number, unit: string, usdPerUnit: number): LineItem => ({
  item,
  quantity: perCustomer * MILLION,
  unit,
  usd: perCustomer * MILLION * usdPerUnit,
});

/**
 * SNS and SQS, as each ordering bills them: a standard topic's requests and body filtering
 * (its deliveries to SQS are free); a FIFO topic's requests and payload, published and
 * delivered, and its subscription messages, with FIFO queues at their own request price.
 */
const messagingLines = (t: Tally, prices: Prices, ordering: Ordering): LineItem[] => {
  const standardQueues = line(
    'SQS requests (Lambda pollers)',
    t.sqsRequests,
    'requests',
    prices.sqs.standardRequestsPerMillion / MILLION,
  );
  if (ordering === 'standard') {
    return [
      line(
        'SNS publish requests',
        t.snsRequests,
        'requests',
        prices.sns.publishRequestsPerMillion / MILLION,
      ),
      line('SNS payload filtering', t.scannedGB, 'GB scanned', prices.sns.payloadFilteringPerGB),
      standardQueues,
    ];
  }
  const fifo = prices.sns.fifo;
  return [
    line(
      'SNS FIFO publish requests',
      t.snsRequests,
      'requests',
      fifo.publishRequestsPerMillion / MILLION,
    ),
    line('SNS FIFO payload published', t.publishedGB, 'GB', fifo.publishPayloadPerGB),
    line('SNS payload filtering', t.scannedGB, 'GB scanned', fifo.payloadFilteringPerGB),
    line(
      'SNS FIFO deliveries to SQS FIFO',
      t.snsDeliveries,
      'subscription messages',
      fifo.sqsDeliveriesPerMillion / MILLION,
    ),
    line('SNS FIFO payload delivered', t.deliveredGB, 'GB', fifo.deliveryPayloadPerGB),
    standardQueues,
    line(
      'SQS FIFO requests (Lambda pollers)',
      t.sqsFifoRequests,
      'requests',
      prices.sqs.fifoRequestsPerMillion / MILLION,
    ),
  ];
};

/**
 * The estimated bill for a million customers. A `perCustomer` bill needs the mappings of a
 * `perCustomer` template in `pipeline` (its FIFO queues and their event sources), a standard
 * one those of a standard template: mixing them would price one design at the other's batches.
 */
export const estimate = (
  pipeline: PipelineResult,
  prices: Prices,
  design: Design,
  workload: Workload,
  load: LoadModel,
  ordering: Ordering = 'standard',
): Bill => {
  const fifoQueues = pipeline.mappings.some((m) => m.fifo === true);
  if (fifoQueues !== (ordering === 'perCustomer')) {
    throw new Error(
      `a ${ordering} bill needs a ${ordering} template's mappings; these have ${fifoQueues ? 'FIFO' : 'no FIFO'} queues`,
    );
  }
  const { tally: t, gbSecondsByArch } = tally(pipeline, design, workload, load);
  const gbSecondPrice = (arch: string) =>
    arch === 'arm64' ? prices.lambda.gbSecond.arm64 : prices.lambda.gbSecond.x86_64;
  const durationUsd = Object.entries(gbSecondsByArch).reduce(
    (sum, [arch, gbs]) => sum + gbs * MILLION * gbSecondPrice(arch),
    0,
  );
  const lines: LineItem[] = [
    line(
      'API Gateway HTTP API requests',
      t.apiRequests,
      'requests',
      prices.apiGateway.httpApiRequestsPerMillion / MILLION,
    ),
    line(
      'Lambda requests',
      t.lambdaRequests,
      'invocations',
      prices.lambda.requestsPerMillion / MILLION,
    ),
    {
      item: `Lambda duration (${Object.keys(gbSecondsByArch).join(', ')})`,
      quantity: t.gbSeconds * MILLION,
      unit: 'GB-s',
      usd: durationUsd,
    },
    ...messagingLines(t, prices, ordering),
    line(
      'DynamoDB write request units',
      t.wru,
      'WRU',
      prices.dynamodb.writeRequestUnitsPerMillion / MILLION,
    ),
    line(
      'DynamoDB read request units',
      t.rru,
      'RRU',
      prices.dynamodb.readRequestUnitsPerMillion / MILLION,
    ),
    line(
      'S3 PUT/COPY/POST/LIST requests',
      t.s3Tier1,
      'requests',
      prices.s3.putCopyPostListPerThousand / 1000,
    ),
    line(
      'S3 GET/HEAD requests',
      t.s3Tier2,
      'requests',
      prices.s3.getHeadAndOtherPerThousand / 1000,
    ),
    line('S3 DELETE requests', t.s3Free, 'requests', prices.s3.deletePerThousand / 1000),
    line(
      'Secrets Manager API calls',
      t.secretCalls,
      'calls',
      prices.secretsManager.apiCallsPer10k / 10_000,
    ),
    line(
      'CloudWatch Logs ingestion',
      t.logBytes / 1024 ** 3,
      'GB',
      prices.cloudWatchLogs.ingestionPerGB,
    ),
  ];
  return {
    design,
    workload,
    load: load.label,
    lines,
    totalUsd: lines.reduce((sum, l) => sum + l.usd, 0),
  };
};

export interface Comparison {
  readonly workload: Workload;
  readonly load: string;
  readonly oursUsd: number;
  readonly defaultUsd: number;
  /** Ours ÷ default. */
  readonly ratio: number;
}

export interface CostResult {
  readonly prices: { readonly readOn: string; readonly region: string; readonly source: string };
  readonly steadyPerSecond: number;
  readonly bills: readonly Bill[];
  readonly comparisons: readonly Comparison[];
  /** For a creation at steady load, ours. */
  readonly findings: {
    /** Lambda requests and duration, of the total. */
    readonly lambdaShare: number;
    /** Every S3 request, of the total. */
    readonly s3Share: number;
  };
  readonly assumptions: readonly string[];
  readonly notCounted: readonly string[];
}

export const loadModels = (perSecond: number): LoadModel[] => [
  { label: `steady ${perSecond}/s`, perSecond, batched: true },
  { label: 'one at a time', perSecond: 1, batched: false },
];

/** Every bill: both designs, both workloads, both loads. */
export const computeCost = (
  pipeline: PipelineResult,
  prices: Prices,
  steadyPerSecond = STEADY_PER_SECOND,
): CostResult => {
  const bills: Bill[] = [];
  const comparisons: Comparison[] = [];
  for (const workload of ['create', 'avatar', 'lifecycle'] as const) {
    for (const load of loadModels(steadyPerSecond)) {
      const ours = estimate(pipeline, prices, 'ours', workload, load);
      const defaults = estimate(pipeline, prices, 'default', workload, load);
      bills.push(ours, defaults);
      comparisons.push({
        workload,
        load: load.label,
        oursUsd: ours.totalUsd,
        defaultUsd: defaults.totalUsd,
        ratio: ours.totalUsd / defaults.totalUsd,
      });
    }
  }
  const steady = loadModels(steadyPerSecond)[0] as LoadModel;
  const created = estimate(pipeline, prices, 'ours', 'create', steady);
  const share = (prefix: string) =>
    created.lines.filter((l) => l.item.startsWith(prefix)).reduce((sum, l) => sum + l.usd, 0) /
    created.totalUsd;
  return {
    prices: { readOn: prices.readOn, region: prices.region, source: prices.source },
    steadyPerSecond,
    bills,
    comparisons,
    findings: {
      lambdaShare: share('Lambda'),
      s3Share: share('S3'),
    },
    assumptions: ASSUMPTIONS,
    notCounted: NOT_COUNTED,
  };
};
