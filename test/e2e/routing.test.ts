import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import type { CfnTemplate } from 'cdk-local-cloud';
import { callApi, stopLocalCloud } from 'cdk-local-cloud';
import { launchCustomerPipeline } from '../../local/launch';
import { sinkCalls } from '../../local/notification-sink';
import { E2E_TIME_SCALE } from './global-setup';
import {
  connect,
  eventually,
  type LocalCloud,
  newCustomerInput,
  resourceNamed,
  welcomeCallsFor,
} from './local-cloud';
import { exactMarkers, exactVersions } from './queries';

/** The local cloud delivers what the template's subscriptions say, not a fixed routing. */
jest.setTimeout(240_000);

let cloud: LocalCloud;
beforeAll(() => {
  cloud = connect();
});

describe('routing comes from the template', () => {
  let second: ChildProcess | undefined;
  let dir: string;
  afterAll(async () => {
    if (second) await stopLocalCloud(second);
    if (dir && !process.env.KEEP_LOCAL_CLOUD_LOGS) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a changed filter policy changes what the local cloud delivers', async () => {
    // The same assembly, with the archive subscription narrowed to updates.
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'customer-pipeline-filter-'));
    const assembly = path.join(dir, 'cdk.out');
    fs.cpSync(path.dirname(cloud.state.templateFile), assembly, { recursive: true });
    const templateFile = path.join(assembly, path.basename(cloud.state.templateFile));
    const template = JSON.parse(fs.readFileSync(templateFile, 'utf8')) as CfnTemplate;
    const archiveQueueId = resourceNamed(cloud, 'archive', 'queue').logicalId;
    const subscription = Object.values(template.Resources).find(
      (r) =>
        r.Type === 'AWS::SNS::Subscription' &&
        JSON.stringify(r.Properties?.Endpoint).includes(archiveQueueId),
    );
    if (!subscription?.Properties) throw new Error('no archive subscription in the template');
    subscription.Properties.FilterPolicy = { MessageType: ['CustomerUpdated'] };
    fs.writeFileSync(templateFile, JSON.stringify(template));

    const launched = await launchCustomerPipeline({
      dir,
      timeScale: E2E_TIME_SCALE,
      assembly,
      readyTimeoutMs: 120_000,
    });
    second = launched.child;
    const other = connect(launched.stateFile);
    const otherBucket = resourceNamed(other, 'assets', 'bucket').ref;
    const otherVersions = (key: string) =>
      other.s3.send(new ListObjectVersionsCommand({ Bucket: otherBucket, Prefix: key }));

    // Its welcome consumer still calls the first cloud's sink: that tells us the event went round.
    const input = newCustomerInput();
    const created = await callApi(other, 'POST', '/customers', input);
    const id = (created.body as { id: string }).id;
    await eventually(
      'the welcome call',
      async () => welcomeCallsFor(await sinkCalls(cloud), id),
      (c) => c.length === 1,
    );
    const key = `customers/${id}.json`;
    expect(exactVersions(await otherVersions(key), key)).toHaveLength(0);

    const updated = await callApi(
      other,
      'PUT',
      `/customers/${id}`,
      { ...input, fullName: 'Updated Name' },
      { 'if-match': '"1"' },
    );
    expect(updated.status).toBe(200);
    const after = await eventually(
      'the archived update',
      () => otherVersions(key),
      (out) => exactVersions(out, key).length === 1,
    );
    expect(exactMarkers(after, key)).toHaveLength(0);
  });
});
