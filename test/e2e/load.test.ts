import { callApi } from 'cdk-local-cloud';
import { sinkCalls } from '../../local/notification-sink';
import {
  connect,
  eventually,
  type LocalCloud,
  newCustomerInput,
  ownCloud,
  welcomeCallsFor,
} from './local-cloud';
import { type PipelineQueries, pipelineQueries } from './queries';

/**
 * 200 customers at once, on a cloud of its own: every welcome sent once, every customer
 * archived once, and its dead-letter queues empty.
 */
jest.setTimeout(240_000);

const started = ownCloud('load');
let cloud: LocalCloud;
/** The suite's cloud: its notification sink gets every cloud's welcome calls. */
let main: LocalCloud;
let q: PipelineQueries;
beforeAll(() => {
  cloud = started();
  main = connect();
  q = pipelineQueries(cloud);
});

describe('under load', () => {
  test('200 customers created concurrently: 200 welcome calls, 200 archive objects, empty DLQs', async () => {
    const inputs = Array.from({ length: 200 }, () => newCustomerInput());
    const ids: string[] = [];
    // 25 requests at a time, like a busy client.
    for (let i = 0; i < inputs.length; i += 25) {
      const responses = await Promise.all(
        inputs.slice(i, i + 25).map((input) => callApi(cloud, 'POST', '/customers', input)),
      );
      for (const response of responses) {
        expect(response.status).toBe(201);
        ids.push((response.body as { id: string }).id);
      }
    }
    const calls = await eventually(
      '200 welcome calls',
      async () => {
        const all = await sinkCalls(main);
        return ids.map((id) => welcomeCallsFor(all, id).length);
      },
      (counts) => counts.every((n) => n >= 1),
      200_000,
    );
    expect(calls.every((n) => n === 1)).toBe(true);
    // One listing of the archive per look, not a request per customer: 200 requests every
    // quarter second would load the emulator the consumers share.
    const archived = await eventually(
      '200 archive objects',
      async () => {
        const byKey = await q.versionsByKey('customers/');
        return ids.map((id) => byKey.get(`customers/${id}.json`)?.length ?? 0);
      },
      (counts) => counts.every((n) => n >= 1),
      200_000,
    );
    expect(archived.every((n) => n === 1)).toBe(true);
    for (const url of q.deadLetterQueueUrls()) expect(await q.queueDepth(url)).toBe(0);
  });
});
