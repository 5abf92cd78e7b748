import { callApi, deliveries, functionCalls } from 'cdk-local-cloud';
import {
  AVATARS_PREFIX,
  archiveKey,
  avatarKey,
  avatarUploadKey,
  contactKey,
} from '../../lambda/shared/contract';
import { AVATAR_UPLOADS_QUEUE } from '../../lib/constructs/avatars';
import { sinkCalls } from '../../local/notification-sink';
import { photo } from '../avatar/images';
import { measure } from '../stats';
import {
  ACTIONS,
  type Action,
  AVATAR_UPLOAD,
  type CallCount,
  countCalls,
  madeByFunction,
  mergeCycles,
  rangeOf,
  spanMs,
} from './calls';
import { type Cloud, newCustomer, versionsUnder, waitForSettled } from './driver';
import { compareWithFloor, FLOOR } from './floor';
import { LogReader, structuredLogBytes } from './logs';
import type { ActionCalls, PipelineResult } from './result';
import type { FunctionConfig } from './template';

// AWS calls per customer: create, upload an avatar, update and delete one customer at a time,
// over cycles.

let upload: Uint8Array | undefined;
const avatarUpload = (): Uint8Array => {
  upload ??= photo(AVATAR_UPLOAD.width, AVATAR_UPLOAD.height, AVATAR_UPLOAD.format);
  return upload;
};

/** The upload through the presigned form, as a browser sends it: its fields, then the file. */
const postForm = async (
  form: { readonly url: string; readonly fields: Record<string, string> },
  file: Uint8Array,
): Promise<Response> => {
  const body = new FormData();
  for (const [name, value] of Object.entries(form.fields)) body.append(name, value);
  body.append('file', new Blob([file]), 'avatar.jpg');
  return fetch(form.url, { method: 'POST', body });
};

interface ActionSample {
  readonly counts: CallCount[];
  readonly deliveries: Map<string, number>;
  readonly spans: Map<string, number>;
  readonly logBytes: Map<string, number>;
}

const measureCycle = async (
  cloud: Cloud,
  functions: readonly FunctionConfig[],
  logs: LogReader,
): Promise<Record<Action, ActionSample>> => {
  const archiveVersions = async (id: string) =>
    (await versionsUnder(cloud, cloud.assetsBucket, archiveKey(id))).get(archiveKey(id))
      ?.versions ?? 0;
  const contactVersions = async (id: string) =>
    (await versionsUnder(cloud, cloud.contactsBucket, contactKey(id))).get(contactKey(id))
      ?.versions ?? 0;
  const versionsOf = async (prefix: string) =>
    [...(await versionsUnder(cloud, cloud.assetsBucket, prefix)).values()].reduce(
      (sum, key) => sum + key.versions,
      0,
    );
  const sample = async (
    action: Action,
    act: () => Promise<void>,
    settled: () => Promise<boolean>,
  ) => {
    const callsBefore = (await functionCalls(cloud)).length;
    const deliveriesBefore = (await deliveries(cloud)).length;
    for (const f of functions) logs.read(f.logicalId);
    await act();
    await waitForSettled(cloud, `the pipeline to settle after ${action}`, settled);
    const calls = (await functionCalls(cloud)).slice(callsBefore);
    const delivered = new Map<string, number>();
    for (const d of (await deliveries(cloud)).slice(deliveriesBefore)) {
      if (d.outcome !== 'succeeded') continue;
      // A consumer's queue goes by its function's name; the avatar uploads' by its own.
      const queue = cloud.nameOf(d.queue);
      delivered.set(queue, (delivered.get(queue) ?? 0) + 1);
    }
    const spans = new Map<string, number>();
    const logBytes = new Map<string, number>();
    for (const f of functions) {
      const span = spanMs(calls.filter((c) => c.caller === f.logicalId && madeByFunction(c)));
      if (span !== undefined) spans.set(f.name, span);
      const bytes = structuredLogBytes(logs.read(f.logicalId));
      if (bytes > 0) logBytes.set(f.name, bytes);
    }
    return { counts: countCalls(calls, cloud.nameOf), deliveries: delivered, spans, logBytes };
  };

  let id = '';
  let etag = '';
  const input = newCustomer(true);
  const create = await sample(
    'create',
    async () => {
      const created = await callApi(cloud, 'POST', '/customers', input);
      if (created.status !== 201) throw new Error(`POST /customers: ${created.status}`);
      id = (created.body as { id: string }).id;
      etag = created.headers.get('etag') ?? '';
    },
    async () => {
      const welcomed = (await sinkCalls(cloud)).some(
        (c) => (c.body as { customerId?: string } | null)?.customerId === id,
      );
      return welcomed && (await archiveVersions(id)) >= 1 && (await contactVersions(id)) >= 1;
    },
  );
  const avatar = await sample(
    'avatar',
    async () => {
      const requested = await callApi(cloud, 'POST', `/customers/${id}/avatar-upload`, {
        contentType: 'image/jpeg',
      });
      if (requested.status !== 200) {
        throw new Error(`POST /customers/{id}/avatar-upload: ${requested.status}`);
      }
      const posted = await postForm(
        requested.body as { url: string; fields: Record<string, string> },
        avatarUpload(),
      );
      if (posted.status !== 204) {
        throw new Error(`POST of the avatar to S3: ${posted.status} ${await posted.text()}`);
      }
    },
    // Published, the upload deleted, and the customer's change (the avatar) archived.
    async () =>
      (await versionsOf(avatarKey(id))) >= 1 &&
      (await versionsOf(avatarUploadKey(id))) === 0 &&
      (await archiveVersions(id)) >= 2,
  );
  // Outside any sample: the avatar is on the customer, and its new version is what the PUT matches.
  const withAvatar = await callApi(cloud, 'GET', `/customers/${id}`);
  if ((withAvatar.body as { avatar?: unknown } | null)?.avatar === undefined) {
    throw new Error(`the avatar was not recorded on customer ${id}`);
  }
  etag = withAvatar.headers.get('etag') ?? '';
  const update = await sample(
    'update',
    async () => {
      const updated = await callApi(
        cloud,
        'PUT',
        `/customers/${id}`,
        { ...input, fullName: `${input.fullName} Renamed`, marketingOptIn: false },
        { 'if-match': etag },
      );
      if (updated.status !== 200) throw new Error(`PUT /customers/{id}: ${updated.status}`);
      etag = updated.headers.get('etag') ?? '';
    },
    async () => {
      return (await archiveVersions(id)) >= 3 && (await contactVersions(id)) === 0;
    },
  );
  const remove = await sample(
    'delete',
    async () => {
      const deleted = await callApi(cloud, 'DELETE', `/customers/${id}`, undefined, {
        'if-match': etag,
      });
      if (deleted.status !== 204) throw new Error(`DELETE /customers/{id}: ${deleted.status}`);
    },
    async () =>
      // The tombstone is the archive's fourth version, after the creation, the avatar and the
      // update; the avatar function erases every avatar version of the customer.
      (await archiveVersions(id)) >= 4 && (await versionsOf(`${AVATARS_PREFIX}${id}`)) === 0,
  );
  return { create, avatar, update, delete: remove };
};

export const measureCalls = async (
  cloud: Cloud,
  functions: readonly FunctionConfig[],
  cycles: number,
  log: (line: string) => void,
): Promise<PipelineResult['calls']> => {
  const logs = new LogReader(cloud.logDir);
  // Made here, not in a cycle's window, where it would stretch the avatar upload's.
  avatarUpload();
  // S3 sends the uploads queue a test event once its notification is configured: the avatar
  // function takes it (and ignores it) before anything is counted, not in a cycle's window.
  try {
    await waitForSettled(
      cloud,
      "S3's test event on the avatar uploads queue",
      async () =>
        (await deliveries(cloud)).some((d) => cloud.nameOf(d.queue) === AVATAR_UPLOADS_QUEUE),
      { timeoutMs: 30_000 },
    );
  } catch {
    log(
      "  no delivery of S3's test event on the avatar uploads queue within 30 s; counting anyway",
    );
  }
  const samples: Record<Action, ActionSample>[] = [];
  for (let cycle = 0; cycle < cycles; cycle += 1) {
    samples.push(await measureCycle(cloud, functions, logs));
    const totals = ACTIONS.map(
      (a) => `${a} ${samples[cycle]?.[a].counts.reduce((s, c) => s + c.count, 0)}`,
    );
    log(`  calls cycle ${cycle + 1}/${cycles}: ${totals.join(', ')}`);
  }
  const names = functions.map((f) => f.name);
  const actions = ACTIONS.map((action): ActionCalls => {
    const ofAction = samples.map((s) => s[action]);
    const rows = mergeCycles(ofAction.map((s) => s.counts));
    // By function, in the template's order, then any other name seen (a queue not named after
    // its function: avatar-uploads).
    const perFunction = (pick: (s: ActionSample) => Map<string, number>) => {
      const seen = new Set(ofAction.flatMap((s) => [...pick(s).keys()]));
      const others = [...seen].filter((name) => !names.includes(name)).sort();
      return [...names, ...others].flatMap((fn) => {
        const values = ofAction.map((s) => pick(s).get(fn));
        return values.some((v) => v !== undefined)
          ? [{ fn, values: values.map((v) => v ?? 0) }]
          : [];
      });
    };
    return {
      action,
      rows,
      total: rangeOf(ofAction.map((s) => s.counts.reduce((sum, c) => sum + c.count, 0))),
      floorTotal: FLOOR.filter((f) => f.action === action).reduce((sum, f) => sum + f.floor, 0),
      deliveries: perFunction((s) => s.deliveries).map(({ fn, values }) => ({
        queue: fn,
        messages: rangeOf(values),
      })),
      spansMs: perFunction((s) => s.spans).map(({ fn, values }) => ({
        fn,
        span: measure(values, 'ms'),
      })),
      logBytes: perFunction((s) => s.logBytes).map(({ fn, values }) => ({
        fn,
        bytes: measure(values, 'B').median,
      })),
    };
  });
  return {
    cycles,
    identical: actions.every((a) => a.rows.every((r) => r.min === r.max)),
    actions,
    comparison: actions.flatMap((a) => compareWithFloor(a.action, a.rows)),
  };
};
