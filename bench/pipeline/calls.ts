import type { AwsCall } from 'cdk-local-cloud';
import { measure } from '../stats';

// Counting the functions' AWS calls, as the local cloud's proxy recorded them.

/** A customer's lifecycle, in order: created, an avatar uploaded, renamed and opted out, deleted. */
export type Action = 'create' | 'avatar' | 'update' | 'delete';
export const ACTIONS: readonly Action[] = ['create', 'avatar', 'update', 'delete'];

/** What each customer uploads as its avatar: a photo, as a phone sends it once resized. */
export const AVATAR_UPLOAD = { width: 1200, height: 900, format: 'jpeg' } as const;

export interface CallKey {
  /** The function's name, its folder under lambda/: api, avatar-upload, stream-publisher, … */
  readonly fn: string;
  readonly service: string;
  readonly operation: string;
}
export interface CallCount extends CallKey {
  readonly count: number;
}
export interface Range {
  readonly min: number;
  readonly max: number;
  readonly median: number;
}
export interface CallRange extends CallKey, Range {}

export const keyOf = (k: CallKey): string => `${k.fn} ${k.service} ${k.operation}`;

export const byKey = (a: CallKey, b: CallKey): number => keyOf(a).localeCompare(keyOf(b));

/** The functions' calls grouped by function name, service and operation. */
export const countCalls = (
  calls: readonly AwsCall[],
  nameOf: (caller: string) => string,
): CallCount[] => {
  const counts = new Map<string, CallCount>();
  for (const call of calls) {
    const key = { fn: nameOf(call.caller), service: call.service, operation: call.operation };
    const previous = counts.get(keyOf(key));
    counts.set(keyOf(key), { ...key, count: (previous?.count ?? 0) + 1 });
  }
  return [...counts.values()].sort(byKey);
};

export const rangeOf = (values: readonly number[]): Range => {
  const m = measure(values, '');
  return { min: m.min, max: m.max, median: m.median };
};

/** Per key, the least, most and median count over cycles (a key absent in a cycle counts 0). */
export const mergeCycles = (cycles: readonly (readonly CallCount[])[]): CallRange[] => {
  const keys = new Map<string, CallKey>();
  for (const cycle of cycles) for (const c of cycle) keys.set(keyOf(c), c);
  return [...keys.values()]
    .map((key) => {
      const counts = cycles.map((cycle) => cycle.find((c) => keyOf(c) === keyOf(key))?.count ?? 0);
      return { fn: key.fn, service: key.service, operation: key.operation, ...rangeOf(counts) };
    })
    .sort(byKey);
};

/**
 * Calls a client makes with a function's signature (the browser's upload through the presigned
 * form), which S3, and so the local cloud, count as the signer's: they are in the counts, as
 * requests the design causes, but not in the function's invocation, so not in its span.
 */
export const PRESIGNED_CALLS: ReadonlySet<string> = new Set(['s3 PostObject']);

/** Whether the function made `call` itself, in one of its invocations. */
export const madeByFunction = (call: Pick<AwsCall, 'service' | 'operation'>): boolean =>
  !PRESIGNED_CALLS.has(`${call.service} ${call.operation}`);

/** From the first call's start to the last call's end, in ms; undefined without calls. */
export const spanMs = (calls: readonly AwsCall[]): number | undefined => {
  if (calls.length === 0) return undefined;
  const start = Math.min(...calls.map((c) => c.startedAt));
  const end = Math.max(...calls.map((c) => c.startedAt + c.durationMs));
  return end - start;
};

/** Calls per second, from the first call's start to the last call's end. */
export const ratePerSecond = (calls: readonly AwsCall[]): number => {
  const span = spanMs(calls);
  return span === undefined || span === 0 ? 0 : (calls.length * 1000) / span;
};
