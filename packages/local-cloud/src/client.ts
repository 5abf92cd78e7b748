import type { AwsCall } from './aws-proxy';
import type { Delivery } from './control-api';
import type { LocalCloudState } from './model';
import { apiCredentials, signApiRequest } from './sigv4';

// A running local cloud over HTTP, from outside: its API, its control API and the
// provider sink. What the end-to-end suite and the benchmark ask of it.

/** A running local cloud: what its state file says. */
interface Running {
  readonly state: Pick<LocalCloudState, 'apiUrl' | 'controlUrl'> &
    Partial<Pick<LocalCloudState, 'region'>>;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
}

/**
 * Calls the HTTP API, as a client would, signed with SigV4 for `execute-api` (what its
 * `AWS_IAM` routes require) with this process's credentials, the ones the local cloud
 * accepts (`apiCredentials`); `{ unsigned: true }` sends it as a client without
 * credentials would. Any status is an answer.
 */
export const callApi = async (
  cloud: Running,
  method: string,
  route: string,
  body?: unknown,
  headers: Record<string, string> = {},
  { unsigned = false }: { readonly unsigned?: boolean } = {},
): Promise<ApiResponse> => {
  const url = `${cloud.state.apiUrl}${route}`;
  const text = body === undefined ? undefined : JSON.stringify(body);
  const unsignedHeaders = { 'content-type': 'application/json', ...headers };
  const response = await fetch(url, {
    method,
    headers: unsigned
      ? unsignedHeaders
      : await signApiRequest(apiCredentials(), cloud.state.region ?? 'us-east-1', {
          method,
          url,
          headers: unsignedHeaders,
          body: text,
        }),
    body: text,
    // What the API answered: a redirect is the answer, not where it points.
    redirect: 'manual',
  });
  const answer = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: answer ? (JSON.parse(answer) as unknown) : undefined,
  };
};

/** Calls the control API; an error status fails. */
export const control = async (
  cloud: Running,
  method: string,
  route: string,
  body?: unknown,
): Promise<unknown> => {
  const response = await fetch(`${cloud.state.controlUrl}${route}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok)
    throw new Error(`control ${method} ${route}: ${response.status} ${await response.text()}`);
  return response.json() as Promise<unknown>;
};

/** Every AWS call the functions made so far, in order. */
export const functionCalls = async (cloud: Running): Promise<AwsCall[]> =>
  ((await control(cloud, 'GET', '/calls')) as { calls: AwsCall[] }).calls;

/** Every message the SQS pollers handed a function so far, in order, with its outcome. */
export const deliveries = async (cloud: Running): Promise<Delivery[]> =>
  ((await control(cloud, 'GET', '/deliveries')) as { deliveries: Delivery[] }).deliveries;
