import * as http from 'node:http';
import * as z from 'zod';
import type { AwsProxy } from './aws-proxy';
import { FAULT_KINDS, type Fault, randomSeed } from './faults';
import type { LambdaInvoker } from './model';
import { listenOnLoopback, readBody } from './net';

/** One message handed to a function by an SQS poller, and what became of it. */
export interface Delivery {
  readonly mapping: string;
  readonly queue: string;
  readonly messageId: string;
  readonly receiveCount: number;
  readonly outcome: 'succeeded' | 'failed' | 'filtered';
}

export interface ControlApi {
  readonly server: http.Server;
  readonly url: string;
}

const kind = z.enum(FAULT_KINDS);

/**
 * A fault rule for one function (`caller`, its logical id) or all of them (src/faults.ts
 * says what each field does). `mode` is the older spelling: `unreachable` is `ResetBefore`,
 * `error` is `InternalError`.
 */
const FaultRequest = z
  .strictObject({
    caller: z.optional(z.string()),
    service: z.optional(z.string()),
    operation: z.optional(z.string()),
    kind: z.optional(z.union([kind, z.literal('any'), z.array(kind).check(z.minLength(1))])),
    mode: z.optional(z.enum(['unreachable', 'error'])),
    rate: z.optional(z.number().check(z.gte(0), z.lte(1))),
    remaining: z.optional(z.int().check(z.positive())),
    delayMs: z.optional(z.int().check(z.nonnegative())),
    seed: z.optional(z.int()),
  })
  .check(
    z.refine((request) => (request.kind === undefined) !== (request.mode === undefined), {
      message: 'give kind (or the older mode), not both',
    }),
  );

type FaultRequest = z.infer<typeof FaultRequest>;

const LEGACY_MODES = { unreachable: 'ResetBefore', error: 'InternalError' } as const;

/** `welcome: dynamodb TransactWriteItems any, at rate 0.05, seed 7` */
const describeRule = (callers: string, fault: Fault & { seed: number }): string => {
  const kinds = Array.isArray(fault.kind) ? fault.kind.join('|') : fault.kind;
  const random = fault.rate !== undefined || kinds === 'any' || Array.isArray(fault.kind);
  const how = [
    fault.rate === undefined ? undefined : `at rate ${fault.rate}`,
    fault.remaining === undefined ? undefined : `the next ${fault.remaining} call(s)`,
    fault.rate === undefined && fault.remaining === undefined ? 'every call' : undefined,
    fault.delayMs === undefined ? undefined : `${fault.delayMs} ms`,
    random ? `seed ${fault.seed}` : undefined,
  ].filter((part) => part !== undefined);
  const calls = [fault.service ?? 'every service', fault.operation].filter(Boolean).join(' ');
  return `fault rule → ${callers}: ${calls} ${kinds}, ${how.join(', ')}`;
};

export interface ControlApiOptions {
  /** Seeds the fault rules posted without a seed. @default - a random one, printed per rule */
  readonly seed?: number;
  /** Where a posted fault rule is announced. @default - nowhere */
  readonly print?: (line: string) => void;
}

/**
 * `POST /invoke/<logical id>` (body: the event) invokes a function;
 * `POST /faults` `{ caller?, service?, operation?, kind, rate?, remaining?, delayMs?, seed? }`
 * adds a fault rule to one function's AWS calls (to every function's without `caller`) and
 * answers with the seed it uses; `DELETE /faults` clears them all;
 * `GET /calls` lists every AWS call the functions made; `GET /deliveries` every
 * message the SQS pollers handed a function, with its receive count and outcome;
 * `GET /iam` what each function's role granted, what its calls used, and what it denied.
 */
export const startControlApi = async (
  hosts: ReadonlyMap<string, LambdaInvoker>,
  proxies: ReadonlyMap<string, AwsProxy>,
  log: {
    readonly calls: readonly unknown[];
    readonly deliveries: readonly Delivery[];
    readonly iam?: () => unknown;
  },
  options: ControlApiOptions = {},
): Promise<ControlApi> => {
  const send = (response: http.ServerResponse, status: number, body: unknown) => {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  };
  const defaultSeed = options.seed ?? randomSeed();
  const addFault = (response: http.ServerResponse, request: FaultRequest) => {
    const { caller, mode, kind, seed = defaultSeed, ...rest } = request;
    const targets = caller === undefined ? [...proxies.values()] : [proxies.get(caller)];
    if (targets.some((proxy) => proxy === undefined)) {
      return send(response, 404, {
        message: `no function ${caller}`,
        functions: [...proxies.keys()],
      });
    }
    const fault = { ...rest, kind: kind ?? LEGACY_MODES[mode ?? 'error'], seed };
    for (const proxy of targets) proxy?.addFault(fault);
    options.print?.(describeRule(caller ?? 'every function', fault));
    return send(response, 200, { ok: true, seed, callers: targets.map((proxy) => proxy?.caller) });
  };

  const server = http.createServer((request, response) => {
    void (async () => {
      const url = new URL(request.url ?? '/', 'http://control');
      const body = await readBody(request, 1024 * 1024);
      const json = body.length > 0 ? (JSON.parse(body.toString()) as unknown) : undefined;
      const invoke = /^\/invoke\/([^/]+)$/.exec(url.pathname);
      if (request.method === 'POST' && invoke?.[1]) {
        const host = hosts.get(decodeURIComponent(invoke[1]));
        if (host === undefined) return send(response, 404, { message: 'no such function' });
        return send(response, 200, await host.invoke(json ?? {}));
      }
      if (url.pathname === '/faults' && request.method === 'POST') {
        const parsed = FaultRequest.safeParse(json);
        if (!parsed.success) {
          return send(response, 400, { message: z.prettifyError(parsed.error) });
        }
        return addFault(response, parsed.data);
      }
      if (url.pathname === '/faults' && request.method === 'DELETE') {
        for (const proxy of proxies.values()) proxy.clearFaults();
        options.print?.('fault rules cleared');
        return send(response, 200, { ok: true });
      }
      if (url.pathname === '/calls' && request.method === 'GET') {
        return send(response, 200, { calls: log.calls });
      }
      if (url.pathname === '/deliveries' && request.method === 'GET') {
        return send(response, 200, { deliveries: log.deliveries });
      }
      if (url.pathname === '/iam' && request.method === 'GET') {
        return send(response, 200, { functions: log.iam?.() ?? [] });
      }
      send(response, 404, { message: 'not found' });
    })().catch((error: unknown) => send(response, 500, { message: String(error) }));
  });
  return { server, url: await listenOnLoopback(server) };
};
