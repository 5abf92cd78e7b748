import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { CfnTemplate } from 'cdk-local-cloud';
import { callApi, control, functionCalls, stopLocalCloud } from 'cdk-local-cloud';
import { contactKey } from '../../lambda/shared/contract';
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

/**
 * The local cloud runs what the template says, not a fixed pipeline: each test changes one
 * thing in a copy of the suite's assembly and runs that copy on a cloud of its own.
 */
jest.setTimeout(240_000);

let cloud: LocalCloud;
const launched: { child: ChildProcess; dir: string }[] = [];
beforeAll(() => {
  cloud = connect();
});
afterAll(async () => {
  for (const { child, dir } of launched.splice(0)) {
    await stopLocalCloud(child);
    if (!process.env.KEEP_LOCAL_CLOUD_LOGS) fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** Runs a copy of the suite's assembly with `change` made to its template. */
const launchChanged = async (
  name: string,
  change: (template: CfnTemplate) => void,
  timeScale = E2E_TIME_SCALE,
): Promise<LocalCloud> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `customer-pipeline-${name}-`));
  const assembly = path.join(dir, 'cdk.out');
  fs.cpSync(path.dirname(cloud.state.templateFile), assembly, { recursive: true });
  const templateFile = path.join(assembly, path.basename(cloud.state.templateFile));
  const template = JSON.parse(fs.readFileSync(templateFile, 'utf8')) as CfnTemplate;
  change(template);
  fs.writeFileSync(templateFile, JSON.stringify(template));
  const started = await launchCustomerPipeline({
    dir,
    timeScale,
    assembly,
    readyTimeoutMs: 120_000,
  });
  launched.push({ child: started.child, dir });
  return connect(started.stateFile);
};

describe('routing comes from the template', () => {
  test('a changed filter policy changes what the local cloud delivers', async () => {
    // The archive subscription narrowed to updates.
    const archiveQueueId = resourceNamed(cloud, 'archive', 'queue').logicalId;
    const other = await launchChanged('filter', (template) => {
      const subscription = Object.values(template.Resources).find(
        (r) =>
          r.Type === 'AWS::SNS::Subscription' &&
          JSON.stringify(r.Properties?.Endpoint).includes(archiveQueueId),
      );
      if (!subscription?.Properties) throw new Error('no archive subscription in the template');
      subscription.Properties.FilterPolicy = { MessageType: ['CustomerUpdated'] };
    });
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

describe('permissions come from the template', () => {
  test('the archive’s role without s3:PutObject and the welcome queue’s policy without the topic: the archive’s messages reach its DLQ, the welcome queue gets nothing, marketing works', async () => {
    const archiveFunction = resourceNamed(cloud, 'archive', 'function').logicalId;
    const welcomeQueue = resourceNamed(cloud, 'welcome', 'queue').logicalId;
    let removed = 0;
    let redirected = 0;
    // SQS's shortest visibility timeout, so the three receives before the DLQ take seconds.
    const other = await launchChanged(
      'iam',
      (template) => {
        const role = JSON.stringify(template.Resources[archiveFunction]?.Properties?.Role);
        const roleId = /"Fn::GetAtt":\["([^"]+)"/.exec(role)?.[1] ?? '';
        for (const resource of Object.values(template.Resources)) {
          if (resource.Type !== 'AWS::IAM::Policy') continue;
          if (!JSON.stringify(resource.Properties?.Roles).includes(`"${roleId}"`)) continue;
          const document = resource.Properties?.PolicyDocument as {
            Statement: { Action: string | string[] }[];
          };
          for (const statement of document.Statement) {
            const actions = [statement.Action].flat();
            statement.Action = actions.filter((action) => action !== 's3:PutObject');
            removed += actions.length - statement.Action.length;
          }
          document.Statement = document.Statement.filter((s) => s.Action.length > 0);
        }
        // The welcome queue's policy lets another topic send, not this one.
        for (const resource of Object.values(template.Resources)) {
          if (resource.Type !== 'AWS::SQS::QueuePolicy') continue;
          if (!JSON.stringify(resource.Properties?.Queues).includes(`"${welcomeQueue}"`)) continue;
          const document = resource.Properties?.PolicyDocument as {
            Statement: { Condition?: { ArnEquals?: Record<string, unknown> } }[];
          };
          for (const statement of document.Statement) {
            if (statement.Condition?.ArnEquals?.['aws:SourceArn'] === undefined) continue;
            statement.Condition.ArnEquals['aws:SourceArn'] =
              'arn:aws:sns:us-east-1:123456789012:another-topic';
            redirected += 1;
          }
        }
      },
      '0.005',
    );
    expect([removed, redirected]).toEqual([1, 1]);
    const dlq = resourceNamed(other, 'archive', 'dead-letter-queue').ref;
    const depth = async () =>
      Number(
        (
          await other.sqs.send(
            new GetQueueAttributesCommand({
              QueueUrl: dlq,
              AttributeNames: ['ApproximateNumberOfMessages'],
            }),
          )
        ).Attributes?.ApproximateNumberOfMessages,
      );

    const created = await callApi(
      other,
      'POST',
      '/customers',
      newCustomerInput({ marketingOptIn: true }),
    );
    const id = (created.body as { id: string }).id;

    await eventually('the creation in the archive’s DLQ', depth, (n) => n === 1);
    const denied = (await functionCalls(other)).filter((c) => c.caller === archiveFunction);
    expect(denied.length).toBeGreaterThanOrEqual(3);
    expect(denied.filter((c) => c.operation === 'PutObject')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          status: 403,
          denied: expect.stringContaining(`s3:PutObject on arn:aws:s3:::`),
        }),
      ]),
    );
    // The marketing contact, from the same event, is unaffected.
    const contacts = resourceNamed(other, 'marketing-contacts', 'bucket').ref;
    await eventually(
      'the marketing contact',
      async () =>
        (
          await other.s3.send(
            new ListObjectVersionsCommand({ Bucket: contacts, Prefix: contactKey(id) }),
          )
        ).Versions?.length ?? 0,
      (n) => n === 1,
    );
    // SNS could not deliver to the welcome queue: nothing reached it, and nobody was welcomed.
    const welcomeQueueUrl = resourceNamed(other, 'welcome', 'queue').ref;
    const welcomeQueueAttributes = await other.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: welcomeQueueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    expect(welcomeQueueAttributes.Attributes).toMatchObject({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
    });
    expect(welcomeCallsFor(await sinkCalls(cloud), id)).toEqual([]);
    // The report names the denial, and no other function was denied anything.
    const { functions } = (await control(other, 'GET', '/iam')) as {
      functions: { function: string; denied: { action: string }[] }[];
    };
    expect(
      functions
        .filter((f) => f.denied.length > 0)
        .map((f) => [f.function, f.denied.map((d) => d.action)]),
    ).toEqual([[expect.any(String), ['s3:PutObject']]]);
  });
});
