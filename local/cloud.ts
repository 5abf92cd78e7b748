import * as fs from 'node:fs';
import * as path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { readStack, synthesize } from './assembly';
import { type AwsProxy, CallGate, DYNAMODB_WRITES, startAwsProxy } from './aws-proxy';
import { type Delivery, startControlApi } from './control-api';
import { parseFilterCriteria } from './event-filter';
import { type ConsumerRoute, FlowTracker } from './flow-tracker';
import { type RunningHttpApi, startHttpApi } from './http-api';
import { type ResolveContext, resolve, resolveString } from './intrinsics';
import {
  type CfnResource,
  LOCAL_ACCOUNT_ID,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  type LocalCloudState,
  type PhysicalResource,
} from './model';
import { type RunningMoto, startMoto } from './moto';
import { closeServer } from './net';
import { startNotificationSink } from './notification-sink';
import { SqsPoller } from './pollers/sqs-poller';
import { StreamPoller } from './pollers/stream-poller';
import { provision } from './provision';
import { FunctionHost } from './runtime/function-host';
import { emulatorClientConfig } from './state';

export interface LocalCloudOptions {
  /** An emulator to use instead of starting moto (`AWS_ENDPOINT_URL`). */
  readonly endpoint?: string;
  readonly stage: string;
  /** Shrinks visibility timeouts, batching windows and retry delays by this factor. */
  readonly timeScale: number;
  /** Port of the HTTP API; 0 picks a free one. */
  readonly apiPort: number;
  readonly stateFile: string;
  /** Synthesized assembly and function logs go here. */
  readonly workDir: string;
  /**
   * A cloud assembly to run as it is, instead of synthesizing the app (its
   * `notificationEndpoint` then points wherever it was synthesized for).
   */
  readonly assembly?: string;
  /**
   * Extra `-c key=value` context for the synth, e.g. a short `streamMaxRecordAgeSeconds`.
   * @default - none: the stage's settings from cdk.json
   */
  readonly context?: Readonly<Record<string, string>>;
  /** Concurrent invocations per function. */
  readonly concurrency: number;
  readonly print: (line: string) => void;
}

export interface RunningLocalCloud {
  readonly state: LocalCloudState;
  stop(): Promise<void>;
}

/** `CustomerPipeline-dev/WelcomeConsumer/Queue/Resource` → `WelcomeConsumer`. */
const constructIdOf = (resource: CfnResource): string | undefined => {
  const cdkPath = resource.Metadata?.['aws:cdk:path'];
  return typeof cdkPath === 'string' ? cdkPath.split('/')[1] : undefined;
};

/** `WelcomeConsumer` → `welcome`: the short name the flow lines and `npm run dlq` use. */
export const consumerName = (constructId: string): string =>
  constructId.replace(/Consumer$/, '').replace(/^./, (c) => c.toLowerCase());

const count = (items: Iterable<[string, number]>): string =>
  [...items].map(([type, n]) => (n > 1 ? `${type} ×${n}` : type)).join(', ');

/**
 * Runs the synthesized pipeline on the emulator: provisions the template's
 * resources, runs each function's bundle with its own environment, drives them
 * from their event sources as Lambda would, and serves the HTTP API.
 */
export const startLocalCloud = async (options: LocalCloudOptions): Promise<RunningLocalCloud> => {
  const { print } = options;
  const cleanups: (() => Promise<void> | void)[] = [];
  const stop = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await Promise.resolve(cleanup()).catch((error: unknown) => print(`stop: ${String(error)}`));
    }
  };
  try {
    let moto: RunningMoto | undefined;
    if (options.endpoint === undefined) {
      moto = await startMoto();
      cleanups.push(() => moto?.stop());
    }
    const endpoint = options.endpoint ?? moto?.endpoint ?? '';
    print(`emulator: ${endpoint}${moto ? ' (moto_server, started here)' : ' (AWS_ENDPOINT_URL)'}`);

    const sink = await startNotificationSink();
    cleanups.push(() => sink.close());

    const stackName = `CustomerPipeline-${options.stage}`;
    const outdir = options.assembly ?? path.resolve(options.workDir, 'cdk.out');
    if (options.assembly === undefined) {
      print(`synthesizing ${stackName} into ${path.relative(process.cwd(), outdir)} …`);
      await synthesize({
        outdir,
        context: {
          ...options.context,
          stage: options.stage,
          notificationEndpoint: `${sink.url}/v1/messages`,
        },
      });
    } else {
      print(`running the cloud assembly in ${outdir}`);
    }
    const stack = readStack(outdir, stackName);

    const clients = {
      dynamodb: new DynamoDBClient(emulatorClientConfig({ endpoint, region: LOCAL_REGION })),
      streams: new DynamoDBStreamsClient(emulatorClientConfig({ endpoint, region: LOCAL_REGION })),
      s3: new S3Client(emulatorClientConfig({ endpoint, region: LOCAL_REGION })),
      secretsManager: new SecretsManagerClient(
        emulatorClientConfig({ endpoint, region: LOCAL_REGION }),
      ),
      sns: new SNSClient(emulatorClientConfig({ endpoint, region: LOCAL_REGION })),
      sqs: new SQSClient(emulatorClientConfig({ endpoint, region: LOCAL_REGION })),
    };
    const provisioned = await provision({
      template: stack.template,
      stackName,
      accountId: LOCAL_ACCOUNT_ID,
      region: LOCAL_REGION,
      clients,
      timeScale: options.timeScale,
    });
    const byType = new Map<string, number>();
    for (const r of Object.values(provisioned.resources)) {
      if (!provisioned.notEmulated.has(r.type) && !provisioned.unknown.has(r.type)) {
        byType.set(r.type, (byType.get(r.type) ?? 0) + 1);
      }
    }
    print(`provisioned: ${count(byType)}`);
    print(`not emulated (no effect on what runs): ${count(provisioned.notEmulated)}`);
    if (provisioned.unknown.size > 0) {
      print(`UNKNOWN resource types, not emulated: ${count(provisioned.unknown)}`);
    }

    const context: ResolveContext = {
      resources: provisioned.resources,
      accountId: LOCAL_ACCOUNT_ID,
      region: LOCAL_REGION,
      stackName,
    };
    const resources = stack.template.Resources;
    const ofType = (type: string) =>
      Object.entries(resources).filter(([, resource]) => resource.Type === type);
    const physicalByAttribute = (value: string): PhysicalResource | undefined =>
      Object.values(provisioned.resources).find(
        (r) => r.ref === value || Object.values(r.attributes).includes(value),
      );

    // Functions: each with its own proxy to the emulator, its own environment, its own log.
    const logDir = path.resolve(options.workDir, 'logs');
    fs.mkdirSync(logDir, { recursive: true });
    const hosts = new Map<string, FunctionHost>();
    const proxies = new Map<string, AwsProxy>();
    const calls: unknown[] = [];
    // Table writes one at a time, and never while a stream poller reads: see StreamPoller.
    const tableGate = new CallGate();
    for (const [id, resource] of ofType('AWS::Lambda::Function')) {
      const p = resolve(resource.Properties ?? {}, context) as Record<string, unknown>;
      const code = p.Code as { S3Key?: string };
      const hash = code.S3Key?.replace(/\.zip$/, '') ?? '';
      const codeDirectory = stack.assetDirectories.get(hash);
      if (codeDirectory === undefined) {
        print(`function ${id}: no staged asset for ${code.S3Key}; it cannot run locally`);
        continue;
      }
      const proxy = await startAwsProxy({
        caller: id,
        target: endpoint,
        onCall: (call) => calls.push(call),
        serialize: {
          gate: tableGate,
          applies: (call) => call.service === 'dynamodb' && DYNAMODB_WRITES.has(call.operation),
        },
      });
      proxies.set(id, proxy);
      cleanups.push(() => proxy.close());
      const physical = provisioned.resources[id] as PhysicalResource;
      const variables = (p.Environment as { Variables?: Record<string, string> } | undefined)
        ?.Variables;
      const log = fs.createWriteStream(path.join(logDir, `${id}.log`), { flags: 'a' });
      cleanups.push(() => new Promise<void>((done) => log.end(done)));
      const host = new FunctionHost(
        {
          logicalId: id,
          functionName: physical.ref,
          functionArn: physical.attributes.Arn ?? '',
          codeDirectory,
          handler: (p.Handler as string | undefined) ?? 'index.handler',
          timeoutSeconds: Number(p.Timeout ?? 3),
          memorySize: Number(p.MemorySize ?? 128),
          environment: {
            ...variables,
            AWS_ENDPOINT_URL: proxy.url,
            AWS_REGION: LOCAL_REGION,
            AWS_DEFAULT_REGION: LOCAL_REGION,
            ...LOCAL_CREDENTIALS,
            AWS_LAMBDA_FUNCTION_NAME: physical.ref,
            AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(p.MemorySize ?? 128),
            AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${physical.ref}`,
            AWS_EXECUTION_ENV: `AWS_Lambda_${String(p.Runtime ?? 'nodejs')}`,
            TZ: 'UTC',
          },
        },
        { concurrency: options.concurrency, log },
      );
      hosts.set(physical.ref, host);
      hosts.set(physical.attributes.Arn ?? '', host);
      hosts.set(id, host);
      cleanups.push(() => host.close());
    }
    const hostFor = (nameOrArn: string): FunctionHost => {
      const host = hosts.get(nameOrArn);
      if (host === undefined) throw new Error(`no local function for ${nameOrArn}`);
      return host;
    };

    // Consumers, as the template routes them: for the flow lines.
    const queueByArn = new Map(
      ofType('AWS::SQS::Queue').map(([id, r]) => [
        provisioned.resources[id]?.attributes.Arn ?? '',
        { id, r },
      ]),
    );
    const routes: ConsumerRoute[] = ofType('AWS::SNS::Subscription').flatMap(([, subscription]) => {
      const p = resolve(subscription.Properties ?? {}, context) as Record<string, unknown>;
      if (p.Protocol !== 'sqs') return [];
      const queue = queueByArn.get(p.Endpoint as string);
      const redrive = (queue?.r.Properties?.RedrivePolicy ?? {}) as { maxReceiveCount?: number };
      return [
        {
          name: consumerName((queue && constructIdOf(queue.r)) ?? String(p.Endpoint)),
          topicArn: p.TopicArn as string,
          queueArn: p.Endpoint as string,
          filterPolicy: p.FilterPolicy as Record<string, unknown> | undefined,
          filterPolicyScope:
            p.FilterPolicyScope === 'MessageBody' ? 'MessageBody' : 'MessageAttributes',
          maxReceiveCount:
            redrive.maxReceiveCount === undefined ? undefined : Number(redrive.maxReceiveCount),
        },
      ];
    });
    const flows = new FlowTracker(routes, print);
    cleanups.push(() => flows.stop());

    // Event source mappings → pollers.
    let mappings = 0;
    const deliveries: Delivery[] = [];
    for (const [id, resource] of ofType('AWS::Lambda::EventSourceMapping')) {
      const p = resolve(resource.Properties ?? {}, context) as Record<string, unknown>;
      const target = hostFor(p.FunctionName as string);
      const source = physicalByAttribute(p.EventSourceArn as string);
      const responseTypes = (p.FunctionResponseTypes as string[] | undefined) ?? [];
      const filters = parseFilterCriteria(p.FilterCriteria);
      const window = Number(p.MaximumBatchingWindowInSeconds ?? 0) * options.timeScale;
      if (source?.type === 'AWS::SQS::Queue') {
        const queueArn = source.attributes.Arn ?? '';
        const poller = new SqsPoller({
          sqs: clients.sqs,
          target,
          settings: {
            queueUrl: source.ref,
            queueArn,
            region: LOCAL_REGION,
            batchSize: Number(p.BatchSize ?? 10),
            maximumBatchingWindowSeconds: window,
            reportBatchItemFailures: responseTypes.includes('ReportBatchItemFailures'),
            filters,
            pollers: 2,
          },
          onDelivery: (d) => {
            flows.record(queueArn, d.message, d.outcome, d.receiveCount);
            deliveries.push({
              mapping: id,
              queue: source.logicalId,
              messageId: d.message.MessageId ?? '',
              receiveCount: d.receiveCount,
              outcome: d.outcome,
            });
          },
          onError: (error) => print(`poller ${id}: ${String(error)}`),
        });
        poller.start();
        cleanups.push(() => poller.stop());
      } else if (source?.type === 'AWS::DynamoDB::Table') {
        const destinationArn = (
          p.DestinationConfig as { OnFailure?: { Destination?: string } } | undefined
        )?.OnFailure?.Destination;
        const destination = destinationArn ? physicalByAttribute(destinationArn) : undefined;
        const poller = new StreamPoller({
          streams: clients.streams,
          tableGate,
          sqs: clients.sqs,
          sns: clients.sns,
          s3: clients.s3,
          target,
          settings: {
            streamArn: p.EventSourceArn as string,
            functionArn: target.definition.functionArn,
            mappingId: provisioned.resources[id]?.ref ?? id,
            region: LOCAL_REGION,
            startingPosition: p.StartingPosition === 'LATEST' ? 'LATEST' : 'TRIM_HORIZON',
            batchSize: Number(p.BatchSize ?? 100),
            maximumBatchingWindowSeconds: window,
            bisectBatchOnFunctionError: p.BisectBatchOnFunctionError === true,
            maximumRetryAttempts: Number(p.MaximumRetryAttempts ?? -1),
            maximumRecordAgeSeconds: Number(p.MaximumRecordAgeInSeconds ?? -1),
            reportBatchItemFailures: responseTypes.includes('ReportBatchItemFailures'),
            filters,
            onFailure: destinationArn
              ? {
                  arn: destinationArn,
                  queueUrl: destination?.type === 'AWS::SQS::Queue' ? destination.ref : undefined,
                  bucket: destination?.type === 'AWS::S3::Bucket' ? destination.ref : undefined,
                }
              : undefined,
            retryBaseDelayMs: 1000 * options.timeScale,
          },
          onInvoke: ({ attempt, outcome, records, durationMs }) => {
            const failures = outcome.ok
              ? (outcome.payload as { batchItemFailures?: unknown[] } | null)?.batchItemFailures
              : undefined;
            const partial = Array.isArray(failures) && failures.length > 0;
            if (!outcome.ok || attempt > 0 || partial) {
              const result = outcome.ok
                ? partial
                  ? `${failures.length} record(s) reported failed`
                  : 'ok'
                : `${outcome.error.errorType}: ${outcome.error.errorMessage}`;
              print(
                `  stream → ${id}: ${records} record(s), attempt ${attempt + 1}: ${result} (${durationMs} ms)`,
              );
            }
          },
          onDiscard: ({ records, condition, destination: to }) =>
            print(
              `  stream → ${id}: gave up on ${records} record(s) (${condition}) → ${to ?? 'nowhere'}`,
            ),
          onError: (error) => print(`poller ${id}: ${String(error)}`),
        });
        await poller.start();
        cleanups.push(() => poller.stop());
      } else {
        print(`event source mapping ${id}: source ${String(p.EventSourceArn)} is not emulated`);
        continue;
      }
      mappings += 1;
    }

    // The HTTP API.
    let api: RunningHttpApi | undefined;
    const [apiEntry] = ofType('AWS::ApiGatewayV2::Api');
    if (apiEntry) {
      const [apiId] = apiEntry;
      const integrations = new Map(
        ofType('AWS::ApiGatewayV2::Integration').map(([id, r]) => [
          id,
          resolve(r.Properties ?? {}, context) as Record<string, unknown>,
        ]),
      );
      const iamRoutes: string[] = [];
      const httpRoutes = ofType('AWS::ApiGatewayV2::Route').map(([, r]) => {
        const p = r.Properties ?? {};
        const targetRef = resolveString(p.Target, context);
        const integrationId = Object.keys(resources).find(
          (id) => provisioned.resources[id]?.ref === targetRef.replace(/^integrations\//, ''),
        );
        const integration = integrationId ? integrations.get(integrationId) : undefined;
        const uri = String(integration?.IntegrationUri ?? '');
        if (p.AuthorizationType === 'AWS_IAM') iamRoutes.push(String(p.RouteKey));
        return { routeKey: resolveString(p.RouteKey, context), target: hostFor(uri) };
      });
      api = await startHttpApi({
        routes: httpRoutes,
        apiId: provisioned.resources[apiId]?.ref ?? 'local',
        accountId: LOCAL_ACCOUNT_ID,
        region: LOCAL_REGION,
        port: options.apiPort,
        onRequest: (entry) =>
          print(
            `${entry.method} ${entry.path} ${entry.status} (${Math.round(entry.durationMs)} ms)`,
          ),
      });
      const running = api;
      cleanups.push(() => running.close());
      print(`HTTP API: ${httpRoutes.length} routes on ${api.url}`);
      if (iamRoutes.length > 0) {
        print(
          `IAM authorization is not enforced locally (${iamRoutes.length} routes require AWS_IAM).`,
        );
      }
    }

    // The control API: tests and tools drive the cloud through it.
    const control = await startControlApi(hosts, proxies, { calls, deliveries });
    cleanups.push(() => closeServer(control.server));

    const state: LocalCloudState = {
      stackName,
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT_ID,
      endpoint,
      apiUrl: api?.url ?? '',
      sinkUrl: sink.url,
      controlUrl: control.url,
      timeScale: options.timeScale,
      templateFile: path.join(outdir, `${stackName}.template.json`),
      resources: Object.fromEntries(
        Object.entries(provisioned.resources).map(([id, r]) => {
          const cdkPath = resources[id]?.Metadata?.['aws:cdk:path'];
          return [id, typeof cdkPath === 'string' ? { ...r, constructPath: cdkPath } : r];
        }),
      ),
      pid: process.pid,
    };
    fs.mkdirSync(path.dirname(options.stateFile), { recursive: true });
    fs.writeFileSync(options.stateFile, `${JSON.stringify(state, null, 2)}\n`);
    cleanups.push(() => fs.rmSync(options.stateFile, { force: true }));
    print(
      `functions: ${new Set(hosts.values()).size}, event source mappings: ${mappings}; notification sink: ${sink.url}`,
    );
    return { state, stop };
  } catch (error) {
    await stop();
    throw error;
  }
};
