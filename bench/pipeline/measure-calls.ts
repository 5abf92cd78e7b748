import { callApi, deliveries, functionCalls } from 'cdk-local-cloud';
import { archiveKey, contactKey } from '../../lambda/shared/contract';
import { sinkCalls } from '../../local/notification-sink';
import { measure } from '../stats';
import {
  ACTIONS,
  type Action,
  type CallCount,
  countCalls,
  mergeCycles,
  rangeOf,
  spanMs,
} from './calls';
import { type Cloud, newCustomer, versionsUnder, waitForSettled } from './driver';
import { compareWithFloor, FLOOR } from './floor';
import { LogReader, structuredLogBytes } from './logs';
import type { ActionCalls, PipelineResult } from './result';
import type { FunctionConfig } from './template';

// AWS calls per customer: create, update and delete one customer at a time, over cycles.

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
      // A consumer's queue goes by its function's name.
      const fn = cloud.nameOf(d.queue);
      delivered.set(fn, (delivered.get(fn) ?? 0) + 1);
    }
    const spans = new Map<string, number>();
    const logBytes = new Map<string, number>();
    for (const f of functions) {
      const span = spanMs(calls.filter((c) => c.caller === f.logicalId));
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
      return (await archiveVersions(id)) >= 2 && (await contactVersions(id)) === 0;
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
      // The tombstone is the archive's third version, after the creation and the update.
      (await archiveVersions(id)) >= 3,
  );
  return { create, update, delete: remove };
};

export const measureCalls = async (
  cloud: Cloud,
  functions: readonly FunctionConfig[],
  cycles: number,
  log: (line: string) => void,
): Promise<PipelineResult['calls']> => {
  const logs = new LogReader(cloud.logDir);
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
    const perFunction = (pick: (s: ActionSample) => Map<string, number>) =>
      names.flatMap((fn) => {
        const values = ofAction.map((s) => pick(s).get(fn));
        return values.some((v) => v !== undefined)
          ? [{ fn, values: values.map((v) => v ?? 0) }]
          : [];
      });
    return {
      action,
      rows,
      total: rangeOf(ofAction.map((s) => s.counts.reduce((sum, c) => sum + c.count, 0))),
      floorTotal: FLOOR.filter((f) => f.action === action).reduce((sum, f) => sum + f.floor, 0),
      deliveries: perFunction((s) => s.deliveries).map(({ fn, values }) => ({
        fn,
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
