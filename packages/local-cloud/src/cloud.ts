import * as fs from 'node:fs';
import * as path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import {
  GetBucketNotificationConfigurationCommand,
  PutBucketNotificationConfigurationCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient, UnsubscribeCommand } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { onlyStackOf, readStack, type SynthesizedStack, synthesize } from './assembly';
import { type AwsCall, type AwsProxy, startAwsProxy } from './aws-proxy';
import { type Delivery, startControlApi } from './control-api';
import { parseFilterCriteria } from './event-filter';
import { describeFault, type Fault, randomSeed } from './faults';
import { appFingerprint, assemblyFingerprint, recordFingerprint } from './fingerprint';
import { type ConsumerRoute, FlowTracker, type MessageLabel } from './flow-tracker';
import { startHttpApi } from './http-api';
import {
  describeReport,
  type IamMode,
  type RoleEnforcer,
  templateRoleEnforcer,
} from './iam/enforcer';
import { destinationDenial, mappingDenial, runtimeDenials } from './iam/platform';
import { proxyIam } from './iam/proxy-iam';
import {
  alarmActionDenial,
  bucketNotificationDenial,
  subscriptionDenial,
  templateResourcePolicies,
} from './iam/resource-policies';
import { type ResolveContext, referencedLogicalIds, resolve, resolveString } from './intrinsics';
import {
  type CfnResource,
  type InvokeOutcome,
  LOCAL_ACCOUNT_ID,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  type LocalCloudState,
  type PhysicalResource,
} from './model';
import { startMoto } from './moto';
import { closeServer } from './net';
import { SqsPoller } from './pollers/sqs-poller';
import { StreamPoller } from './pollers/stream-poller';
import { type ProvisionResult, provision, versionResource } from './provision';
import { FunctionHost } from './runtime/function-host';
import { apiCredentials, verifyApiRequest } from './sigv4';
import { emulatorClientConfig, writeLocalCloudState } from './state';
import { appliesInPlace, diffTemplates, hasNoLocalEffect } from './template-diff';
import { type CodeWatch, CodeWatcher } from './watch';

/** A local server an app runs beside its cloud: a stand-in for a third party it calls. */
export interface Sidecar {
  /** Its key in the state file's `sidecars`, e.g. `notification-sink`. */
  readonly name: string;
  /**
   * Starts it; `context` is passed to the synth (`-c key=value`), e.g. its URL. `previousUrl`
   * is where it ran last time: serving there again keeps the context, and so the synthesized
   * assembly, the same.
   */
  start(previousUrl?: string): Promise<{
    readonly url: string;
    readonly context?: Readonly<Record<string, string>>;
    stop(): Promise<void>;
  }>;
}

export interface LocalCloudOptions {
  /** An emulator to use instead of starting moto (`AWS_ENDPOINT_URL`). @default - moto, started here */
  readonly endpoint?: string;
  /**
   * The CDK app's directory (its cdk.json). Its `node_modules` provide the `cdk` CLI for
   * the synth and the AWS SDK modules Lambda's runtime would provide to its functions.
   * @default - the current directory
   */
  readonly appDir?: string;
  /** The stack to run. @default - the assembly's only stack */
  readonly stackName?: string;
  /** Shrinks visibility timeouts, batching windows and retry delays by this factor. */
  readonly timeScale: number;
  /**
   * Shrinks streams' maximum record age by this factor, so a test reaches the on-failure
   * path of a mapping that retries until the record age (Lambda's shortest is 60 s) sooner.
   * @default 1 - not shrunk: the time scale leaves it alone, because a shrunk record age gives
   * up records a busy local cloud is only slow to publish, which AWS would publish
   */
  readonly recordAgeScale?: number;
  /** Port of the HTTP API; 0 picks a free one. */
  readonly apiPort: number;
  readonly stateFile: string;
  /** Synthesized assembly and function logs go here. */
  readonly workDir: string;
  /** A cloud assembly to run as it is. @default - the app is synthesized into `workDir` */
  readonly assembly?: string;
  /** `-c key=value` context for the synth. @default - none: the app's cdk.json */
  readonly context?: Readonly<Record<string, string>>;
  /** Concurrent invocations per function. */
  readonly concurrency: number;
  /**
   * IAM for the functions' calls, from their roles in the template: `enforce` answers what a
   * role does not allow as AWS would, `report` lets it through and lists it, `off` evaluates
   * nothing. @default 'enforce'
   */
  readonly iam?: IamMode;
  readonly print: (line: string) => void;
  /** @default - none */
  readonly sidecars?: readonly Sidecar[];
  /**
   * What the flow lines and the state call a resource (a consumer queue, a function).
   * @default - its construct id: `WelcomeConsumer` for `Stack/WelcomeConsumer/Queue/Resource`
   */
  readonly nameOf?: (logicalId: string, resource: CfnResource) => string | undefined;
  /** What a flow line calls a message. @default - its message id */
  readonly labelOf?: MessageLabel;
  /**
   * The probability that any AWS call of any function fails, with a fault chosen at random
   * among those that apply to the call (src/faults.ts). @default 0
   */
  readonly faultRate?: number;
  /**
   * Seeds the random faults (`faultRate`, and the control API's rules that bring no seed),
   * so that a run can be replayed. @default - a random seed
   */
  readonly faultSeed?: number;
  /**
   * Watch mode: rebuild a function's code when a source file it is built from changes, and
   * run the new code from its next invocation, with everything else left as it is.
   * @default - not watched
   */
  readonly watch?: CodeWatch;
}

export interface RunningLocalCloud {
  readonly state: LocalCloudState;
  /** Whether the app was synthesized for this start, its assembly from the last one reused, or an assembly given. */
  readonly assembly: 'synthesized' | 'reused' | 'given';
  /** From the call to ready. */
  readonly readyInMs: number;
  stop(): Promise<void>;
}

/** `Stack/WelcomeConsumer/Queue/Resource` → `WelcomeConsumer`. */
const constructIdOf = (resource: CfnResource): string | undefined => {
  const cdkPath = resource.Metadata?.['aws:cdk:path'];
  return typeof cdkPath === 'string' ? cdkPath.split('/')[1] : undefined;
};

const count = (items: Iterable<[string, number]>): string =>
  [...items].map(([type, n]) => (n > 1 ? `${type} ×${n}` : type)).join(', ');

type Cleanup = () => Promise<void> | void;

/** What every step shares: the options, where to register its cleanup, and the emulator. */
interface Step {
  readonly options: LocalCloudOptions;
  readonly print: (line: string) => void;
  readonly onStop: (cleanup: Cleanup) => void;
  /** Set once stopping has begun: pollers go quiet instead of reporting a closing emulator. */
  readonly stopping: () => boolean;
}

type Clients = ReturnType<typeof emulatorClients>;

const emulatorClients = (endpoint: string) => {
  const config = emulatorClientConfig({ endpoint, region: LOCAL_REGION });
  return {
    dynamodb: new DynamoDBClient(config),
    streams: new DynamoDBStreamsClient(config),
    s3: new S3Client(config),
    secretsManager: new SecretsManagerClient(config),
    sns: new SNSClient(config),
    sqs: new SQSClient(config),
  };
};

const startEmulator = async ({ options, print, onStop }: Step): Promise<string> => {
  if (options.endpoint !== undefined) {
    print(`emulator: ${options.endpoint} (AWS_ENDPOINT_URL)`);
    return options.endpoint;
  }
  const moto = await startMoto();
  onStop(() => moto.stop());
  print(`emulator: ${moto.endpoint} (moto, started here)`);
  return moto.endpoint;
};

const startSidecars = async ({ options, onStop }: Step) => {
  const urls: Record<string, string> = {};
  const context: Record<string, string> = {};
  const file = path.resolve(options.workDir, 'sidecars.json');
  let previous: Record<string, string> = {};
  try {
    previous = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, string>;
  } catch {
    // first start in this work directory
  }
  for (const sidecar of options.sidecars ?? []) {
    const running = await sidecar.start(previous[sidecar.name]);
    onStop(() => running.stop());
    urls[sidecar.name] = running.url;
    Object.assign(context, running.context);
  }
  fs.mkdirSync(options.workDir, { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(urls, null, 2)}\n`);
  return { urls, context };
};

/** The stack to run, and whether it was synthesized now or reused. */
interface Assembly {
  readonly stack: SynthesizedStack;
  readonly how: 'synthesized' | 'reused' | 'given';
}

const synthesizeOrReuse = async (
  { options, print }: Step,
  sidecarContext: Readonly<Record<string, string>>,
): Promise<Assembly> => {
  const appDir = options.appDir ?? process.cwd();
  if (options.assembly !== undefined) {
    print(`running the cloud assembly in ${options.assembly}`);
    return {
      stack: readStack(options.assembly, options.stackName ?? onlyStackOf(options.assembly)),
      how: 'given',
    };
  }
  const outdir = path.resolve(options.workDir, 'cdk.out');
  const context = { ...options.context, ...sidecarContext };
  const fingerprint = appFingerprint(appDir, context, [options.workDir]);
  const name = options.stackName ?? 'the app';
  let how: Assembly['how'] = 'reused';
  if (assemblyFingerprint(outdir) === fingerprint) {
    print(`reusing ${name} synthesized in ${path.relative(appDir, outdir)}: nothing changed since`);
  } else {
    print(`synthesizing ${name} into ${path.relative(appDir, outdir)} …`);
    fs.rmSync(outdir, { recursive: true, force: true });
    await synthesize({ appDir, outdir, context });
    recordFingerprint(outdir, fingerprint);
    how = 'synthesized';
  }
  return { stack: readStack(outdir, options.stackName ?? onlyStackOf(outdir)), how };
};

/**
 * SNS delivers to a queue only if the queue's policy lets the topic send: a subscription
 * whose queue would reject it gets nothing, as on AWS (enforced: it is removed from moto,
 * which would deliver regardless). The same for S3's event notifications to a queue, which
 * S3 refuses to configure. CloudWatch publishes an alarm to an encrypted topic only if the
 * key's policy lets it: an alarm that would not notify is named.
 */
const checkDeliveries = async (
  print: (line: string) => void,
  stack: SynthesizedStack,
  provisioned: ProvisionResult,
  clients: Clients,
  iam: IamMode,
): Promise<void> => {
  const context: ResolveContext = {
    resources: provisioned.resources,
    accountId: LOCAL_ACCOUNT_ID,
    region: LOCAL_REGION,
    stackName: stack.stackName,
  };
  for (const [id, resource] of Object.entries(stack.template.Resources)) {
    if (resource.Type !== 'AWS::SNS::Subscription') continue;
    const p = resolve(resource.Properties ?? {}, context) as Record<string, unknown>;
    if (p.Protocol !== 'sqs') continue;
    const why = subscriptionDenial(stack.template, context, {
      topicArn: p.TopicArn as string,
      queueArn: p.Endpoint as string,
    });
    if (why === undefined) continue;
    if (iam === 'enforce') {
      const arn = provisioned.resources[id]?.ref;
      if (arn) await clients.sns.send(new UnsubscribeCommand({ SubscriptionArn: arn }));
      print(`subscription ${id} NOT DELIVERED: ${why} (on AWS, SNS's every delivery to it fails)`);
    } else {
      print(`subscription ${id} would not deliver: ${why} (IAM reported: delivered anyway)`);
    }
  }
  // S3 checks a notification's destinations when the configuration is put (CDK's provider
  // asks it to): a queue whose policy would refuse the bucket fails the deploy on AWS.
  for (const [id, resource] of Object.entries(stack.template.Resources)) {
    if (resource.Type !== 'Custom::S3BucketNotifications') continue;
    const p = resolve(resource.Properties ?? {}, context) as {
      BucketName: string;
      NotificationConfiguration?: { QueueConfigurations?: { QueueArn: string }[] };
    };
    const refused = new Set<string>();
    for (const { QueueArn } of p.NotificationConfiguration?.QueueConfigurations ?? []) {
      const why = bucketNotificationDenial(stack.template, context, {
        bucketArn: `arn:aws:s3:::${p.BucketName}`,
        queueArn: QueueArn,
      });
      if (why === undefined) continue;
      refused.add(QueueArn);
      print(
        iam === 'enforce'
          ? `bucket notification ${id} → ${QueueArn} NOT DELIVERED: ${why} (on AWS, S3 refuses the configuration and the deploy fails)`
          : `bucket notification ${id} → ${QueueArn} would not deploy: ${why} (IAM reported: delivered anyway)`,
      );
    }
    if (refused.size === 0 || iam !== 'enforce') continue;
    const current = await clients.s3.send(
      new GetBucketNotificationConfigurationCommand({ Bucket: p.BucketName }),
    );
    await clients.s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: p.BucketName,
        NotificationConfiguration: {
          QueueConfigurations: (current.QueueConfigurations ?? []).filter(
            (c) => !refused.has(c.QueueArn ?? ''),
          ),
          TopicConfigurations: current.TopicConfigurations,
        },
      }),
    );
  }
  // The local cloud does not evaluate alarms; a key that would stop CloudWatch publishing
  // them on AWS is said once per topic at start-up.
  const silenced = new Map<string, string[]>();
  for (const [id, resource] of Object.entries(stack.template.Resources)) {
    if (resource.Type !== 'AWS::CloudWatch::Alarm') continue;
    const p = resolve(resource.Properties ?? {}, context) as Record<string, unknown>;
    const actions = ['AlarmActions', 'OKActions', 'InsufficientDataActions'].flatMap((name) =>
      Array.isArray(p[name]) ? (p[name] as unknown[]).map(String) : [],
    );
    for (const topicArn of new Set(actions.filter((a) => a.startsWith('arn:aws:sns:')))) {
      const alarmArn = provisioned.resources[id]?.attributes.Arn ?? '';
      const why = alarmActionDenial(stack.template, context, { alarmArn, topicArn });
      if (why === undefined) continue;
      const key = `${topicArn}\n${why.replace(alarmArn, 'each alarm')}`;
      silenced.set(key, [...(silenced.get(key) ?? []), id]);
    }
  }
  for (const [key, alarms] of silenced) {
    const [topicArn, why] = key.split('\n');
    print(
      `alarms NOT NOTIFIED on AWS: ${alarms.length} alarm(s) (${alarms.join(', ')}) notify ${topicArn}, but ${why}`,
    );
  }
};

const provisionStack = async (
  { print }: Step,
  stack: SynthesizedStack,
  clients: Clients,
  timeScale: number,
  iam: IamMode,
): Promise<ProvisionResult> => {
  const provisioned = await provision({
    template: stack.template,
    stackName: stack.stackName,
    accountId: LOCAL_ACCOUNT_ID,
    region: LOCAL_REGION,
    clients,
    timeScale,
  });
  if (iam !== 'off') await checkDeliveries(print, stack, provisioned, clients, iam);
  const byType = new Map<string, number>();
  for (const r of Object.values(provisioned.resources)) {
    if (!provisioned.notEmulated.has(r.type) && !provisioned.unknown.has(r.type)) {
      byType.set(r.type, (byType.get(r.type) ?? 0) + 1);
    }
  }
  print(`provisioned: ${count(byType)}`);
  print(`not emulated (no effect on what runs): ${count(provisioned.notEmulated)}`);
  for (const [type, reason] of provisioned.notRun) print(`NOT EMULATED: ${type}: ${reason}`);
  if (provisioned.unknown.size > 0) {
    print(`UNKNOWN resource types, not emulated: ${count(provisioned.unknown)}`);
  }
  return provisioned;
};

/** Why a function cannot run here, if it cannot: a runtime or a package this host does not run. */
const notRunnable = (p: Record<string, unknown>): string | undefined => {
  if (p.PackageType === 'Image') return 'a container image';
  const runtime = String(p.Runtime ?? '');
  if (!runtime.startsWith('nodejs'))
    return `runtime ${runtime || '(none)'}: only Node.js runs here`;
  return undefined;
};

/** Custom resources this cloud creates in the emulator itself, from their properties. */
const SELF_PROVISIONED_CUSTOM_RESOURCES = new Set(['Custom::S3BucketNotifications']);

/**
 * The functions that only provide custom resources this cloud creates itself (CDK's bucket
 * notifications handler): the type each provides, by the function's logical id. A function
 * anything else refers to is not one of them.
 */
const selfProvisionedProviders = (template: SynthesizedStack['template']): Map<string, string> => {
  const providers = new Map<string, string>();
  const otherwiseReferenced = new Set<string>();
  for (const [id, resource] of Object.entries(template.Resources)) {
    const { ServiceToken, ...rest } = (resource.Properties ?? {}) as Record<string, unknown>;
    const [token] = referencedLogicalIds(ServiceToken ?? null);
    if (token !== undefined && SELF_PROVISIONED_CUSTOM_RESOURCES.has(resource.Type)) {
      providers.set(token, resource.Type);
    } else if (token !== undefined) {
      otherwiseReferenced.add(token);
    }
    for (const other of referencedLogicalIds(rest))
      if (other !== id) otherwiseReferenced.add(other);
  }
  for (const id of otherwiseReferenced) providers.delete(id);
  return providers;
};

/** Inline code (`Code.ZipFile`) is written out as `index.js`, as Lambda does. */
const inlineCodeDirectory = (workDir: string, logicalId: string, source: string): string => {
  const dir = path.resolve(workDir, 'inline', logicalId);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'index.js'), source);
  return dir;
};

/** The stack as provisioned on the emulator, and how its references resolve there. */
interface Deployed {
  readonly stack: SynthesizedStack;
  readonly provisioned: ProvisionResult;
  readonly context: ResolveContext;
}

/** A function as an event source, a route or the control API invokes it: by its ARN, qualified or not. */
interface InvokeTarget {
  readonly host: FunctionHost;
  /** The ARN it is invoked by: the function's, or a version's or an alias's. */
  readonly arn: string;
  invoke(event: unknown): Promise<InvokeOutcome>;
}

interface HostedFunctions {
  /** Each function's host, by its name, ARN and logical id. */
  readonly hosts: Map<string, FunctionHost>;
  /**
   * What can be invoked, by name, ARN or logical id, qualified (`:1`, `:live`, `:$LATEST`) or
   * not. Kept current: watch mode adds the versions a new synth publishes.
   */
  readonly targets: Map<string, InvokeTarget>;
  /** Publishes a new synthesis's version (watch mode): the function's next version number. */
  readonly publish: (logicalId: string, p: Record<string, unknown>) => void;
  /** Applies a new synthesis's alias (watch mode), by logical id: it follows its `FunctionVersion`. */
  readonly qualify: Map<string, (p: Record<string, unknown>) => void>;
  readonly proxies: Map<string, AwsProxy>;
  readonly calls: AwsCall[];
  /** Each function's role, evaluated for its calls, by logical id. */
  readonly roles: Map<string, RoleEnforcer>;
  /**
   * Applies a new synthesis's properties of a function to its host (watch mode), by logical
   * id: code, handler, environment, memory and timeout.
   */
  readonly reconfigure: Map<string, (stack: SynthesizedStack, p: Record<string, unknown>) => void>;
}

/**
 * What IAM needs of the provisioned cloud besides a call: a secret's full ARN when a
 * function names it by its name (or an ARN without its suffix), and the KMS key a topic is
 * encrypted with (`KmsMasterKeyId` gives the key's id or ARN). An alias, or an AWS managed
 * key (alias/aws/sns), is not checked: its policy is not the template's.
 */
const iamLookups = ({ stack, provisioned, context }: Deployed) => {
  const resources = Object.values(provisioned.resources);
  const secrets = resources
    .filter((r) => r.type === 'AWS::SecretsManager::Secret')
    .map((r) => ({
      arn: r.ref,
      name: r.ref.replace(/^.*:secret:/, '').replace(/-[A-Za-z0-9]{6}$/, ''),
    }));
  const topicKeys = new Map<string, string>();
  for (const [topicId, topic] of Object.entries(stack.template.Resources)) {
    if (topic.Type !== 'AWS::SNS::Topic' || topic.Properties?.KmsMasterKeyId === undefined) {
      continue;
    }
    const key = String(resolve(topic.Properties.KmsMasterKeyId, context));
    const keyArn = resources.find(
      (r) => r.type === 'AWS::KMS::Key' && (r.ref === key || r.attributes.Arn === key),
    )?.attributes.Arn;
    const topicArn = provisioned.resources[topicId]?.ref;
    if (topicArn !== undefined && keyArn) topicKeys.set(topicArn, keyArn);
  }
  return {
    secretArn: (id: string) =>
      secrets.find(({ arn, name }) => arn === id || name === id || arn.startsWith(`${id}-`))?.arn,
    topicKey: (topicArn: string) => topicKeys.get(topicArn),
  };
};

/**
 * Watch mode's answer to a change in the stack's code: a new synth, compared with what runs.
 * A function's code and configuration, and a mapping's batching, filters and retries, are
 * applied in place, as Lambda's update APIs would apply them; any other change is named with
 * a restart asked for, and the running cloud keeps its old definition of that resource (and
 * names it again after the next synth, until restarted).
 */
const resynthesizer = (
  { options, print }: Step,
  deployed: Deployed,
  functions: HostedFunctions,
  pollers: RunningPollers,
  sidecarContext: Readonly<Record<string, string>>,
) => {
  let running = deployed.stack.template;
  let synths = 0;
  const resynthDir = path.resolve(options.workDir, 'resynth');
  fs.rmSync(resynthDir, { recursive: true, force: true });
  return async (files: readonly string[]): Promise<void> => {
    synths += 1;
    // Kept while the cloud runs: a function may run code staged by any synth so far.
    const outdir = path.join(resynthDir, String(synths));
    const started = Date.now();
    print(`${files.join(', ')} changed: synthesizing …`);
    try {
      await synthesize({
        appDir: options.appDir ?? process.cwd(),
        outdir,
        context: { ...options.context, ...sidecarContext },
      });
    } catch (error) {
      print(
        `the synth failed; the running cloud keeps its definition:\n${(error as Error).message}`,
      );
      return;
    }
    const next = readStack(outdir, deployed.stack.stackName);
    const resources = { ...next.template.Resources };
    const applied: string[] = [];
    const pending: string[] = [];
    let noEffect = 0;
    // A version is published before the alias that points at it moves.
    const changes = diffTemplates(running, next.template).sort(
      (a, b) =>
        Number(b.type === 'AWS::Lambda::Version') - Number(a.type === 'AWS::Lambda::Version'),
    );
    for (const change of changes) {
      const { logicalId: id } = change;
      if (hasNoLocalEffect(change)) {
        noEffect += 1;
        continue;
      }
      const resource = next.template.Resources[id];
      const apply =
        change.type === 'AWS::Lambda::Function'
          ? (q: Record<string, unknown>) => functions.reconfigure.get(id)?.(next, q)
          : change.type === 'AWS::Lambda::Version'
            ? (q: Record<string, unknown>) => functions.publish(id, q)
            : (functions.qualify.get(id) ?? pollers.update.get(id));
      const name = (resource && options.nameOf?.(id, resource)) ?? id;
      try {
        if (!appliesInPlace(change)) throw new Error('not in place');
        if (change.kind === 'removed') {
          // A version the template no longer names is retained, and still invocable.
          continue;
        }
        if (resource === undefined || apply === undefined) throw new Error('not in place');
        // Resolved against what runs: a reference to a resource it does not have fails here.
        apply(resolve(resource.Properties ?? {}, deployed.context) as Record<string, unknown>);
        applied.push(
          change.kind === 'added'
            ? `${name} (published version ${deployed.provisioned.resources[id]?.attributes.Version ?? '?'})`
            : `${name} (${change.properties.join(', ')})`,
        );
      } catch {
        pending.push(
          `${id} (${change.type}, ${change.kind}${change.properties.length > 0 ? `: ${change.properties.join(', ')}` : ''})`,
        );
        const before = running.Resources[id];
        if (before === undefined) delete resources[id];
        else resources[id] = before;
      }
    }
    running = { ...next.template, Resources: resources };
    const took = `${((Date.now() - started) / 1000).toFixed(1)} s`;
    const ignored =
      noEffect > 0
        ? ` (${noEffect} change(s) to alarms, dashboards or CodeDeploy: no effect here)`
        : '';
    print(
      applied.length > 0
        ? `synthesized and applied in ${took}: ${applied.join(', ')}${ignored}`
        : `synthesized in ${took}: nothing to apply in place${ignored}`,
    );
    if (pending.length > 0) {
      print(`restart to apply: ${pending.join('; ')} (the running cloud keeps the old definition)`);
    }
  };
};

/** Watch mode: each function the app builds from its sources is rebuilt and swapped on save. */
const watchCode = (
  step: Step,
  deployed: Deployed,
  functions: HostedFunctions,
  pollers: RunningPollers,
  sidecarContext: Readonly<Record<string, string>>,
  watch: CodeWatch,
): void => {
  const { options, print, onStop } = step;
  const { stack } = deployed;
  const watcher = new CodeWatcher(watch, {
    workDir: path.resolve(options.workDir, 'watch'),
    print,
    onInfraChange: resynthesizer(step, deployed, functions, pollers, sidecarContext),
  });
  onStop(() => watcher.stop());
  // Ready does not wait for the builds that warm the watch: it prints a line when watching.
  watcher.start(
    [...new Set(functions.hosts.values())].map((host) => {
      const logicalId = host.definition.logicalId;
      const resource = stack.template.Resources[logicalId] as CfnResource;
      return {
        logicalId,
        name: options.nameOf?.(logicalId, resource) ?? logicalId,
        resource,
        host,
      };
    }),
  );
};

const hostFunctions = async (
  { options, print, onStop }: Step,
  deployed: Deployed,
  endpoint: string,
  faultSeed: number,
): Promise<HostedFunctions> => {
  const { stack, provisioned, context } = deployed;
  const faults: Fault[] = options.faultRate ? [{ kind: 'any', rate: options.faultRate }] : [];
  const logDir = path.resolve(options.workDir, 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  const hosts = new Map<string, FunctionHost>();
  const proxies = new Map<string, AwsProxy>();
  const calls: AwsCall[] = [];
  const roles = new Map<string, RoleEnforcer>();
  const iamMode: IamMode = options.iam ?? 'enforce';
  const { secretArn, topicKey } = iamLookups(deployed);
  const resourcePolicies = templateResourcePolicies(stack.template, context);
  // A log group's Ref is its name.
  const logGroups = new Set(
    Object.values(provisioned.resources)
      .filter((r) => r.type === 'AWS::Logs::LogGroup')
      .map((r) => r.ref),
  );
  const reconfigure: HostedFunctions['reconfigure'] = new Map();
  /** A function's staged code: its asset's directory, or its inline code written out. */
  const codeDirectoryOf = (source: SynthesizedStack, id: string, p: Record<string, unknown>) => {
    const code = p.Code as { S3Key?: string; ZipFile?: string };
    return code.ZipFile !== undefined
      ? inlineCodeDirectory(options.workDir, id, code.ZipFile)
      : source.assetDirectories.get(code.S3Key?.replace(/\.zip$/, '') ?? '');
  };
  const providers = selfProvisionedProviders(stack.template);
  for (const [id, resource] of Object.entries(stack.template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const provides = providers.get(id);
    if (provides !== undefined) {
      print(
        `function ${id} not run: it only provides ${provides}, which this cloud creates in the emulator itself`,
      );
      continue;
    }
    const p = resolve(resource.Properties ?? {}, context) as Record<string, unknown>;
    const why = notRunnable(p);
    if (why !== undefined) {
      print(`function ${id} is NOT EMULATED: ${why}`);
      continue;
    }
    const codeDirectory = codeDirectoryOf(stack, id, p);
    if (codeDirectory === undefined) {
      print(
        `function ${id} is NOT EMULATED: no staged asset for ${String((p.Code as { S3Key?: string }).S3Key)}`,
      );
      continue;
    }
    const name = options.nameOf?.(id, resource) ?? id;
    const physicalName = provisioned.resources[id]?.ref ?? id;
    const enforcer = templateRoleEnforcer(stack.template, id, context, {
      mode: iamMode,
      name,
      resourcePolicies,
    });
    roles.set(id, enforcer);
    if (iamMode !== 'off') {
      const loggingConfig = p.LoggingConfig as { LogGroup?: string } | undefined;
      const logGroup = loggingConfig?.LogGroup ?? `/aws/lambda/${physicalName}`;
      const lost = runtimeDenials(
        enforcer,
        {
          logGroup,
          // A group the function names exists already (AWS requires it); the default one
          // exists only if the template defines it.
          ownLogGroup: loggingConfig?.LogGroup !== undefined || logGroups.has(logGroup),
          tracing: (p.TracingConfig as { Mode?: string } | undefined)?.Mode === 'Active',
        },
        { region: LOCAL_REGION, accountId: LOCAL_ACCOUNT_ID },
      );
      if (lost.length > 0) {
        print(
          `${name}: on AWS its runtime could not write ${lost.join(', ')}: that output would be lost`,
        );
      }
    }
    const proxy = await startAwsProxy({
      caller: id,
      target: endpoint,
      seed: faultSeed,
      faults,
      iam: proxyIam(
        enforcer,
        { region: LOCAL_REGION, accountId: LOCAL_ACCOUNT_ID, secretArn },
        { topicKey },
      ),
      onCall: (call) => {
        calls.push(call);
        if (call.fault !== undefined) {
          print(
            `  fault → ${name}: ${call.service} ${call.operation} ${describeFault(call.fault, call)}`,
          );
        }
        if (call.denied !== undefined) {
          print(
            `  denied → ${name}: ${call.service} ${call.operation}: ${call.denied} (${call.status})`,
          );
        }
      },
    });
    proxies.set(id, proxy);
    onStop(() => proxy.close());
    const physical = provisioned.resources[id] as PhysicalResource;
    const log = fs.createWriteStream(path.join(logDir, `${id}.log`), { flags: 'a' });
    onStop(() => new Promise<void>((done) => log.end(done)));
    /** What the function's properties set: its configuration, as Lambda's would. */
    const configurationOf = (q: Record<string, unknown>) => ({
      handler: (q.Handler as string | undefined) ?? 'index.handler',
      timeoutSeconds: Number(q.Timeout ?? 3),
      memorySize: Number(q.MemorySize ?? 128),
      environment: {
        ...(q.Environment as { Variables?: Record<string, string> } | undefined)?.Variables,
        AWS_ENDPOINT_URL: proxy.url,
        AWS_REGION: LOCAL_REGION,
        AWS_DEFAULT_REGION: LOCAL_REGION,
        ...LOCAL_CREDENTIALS,
        AWS_LAMBDA_FUNCTION_NAME: physical.ref,
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(q.MemorySize ?? 128),
        AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${physical.ref}`,
        AWS_EXECUTION_ENV: `AWS_Lambda_${String(q.Runtime ?? 'nodejs')}`,
        TZ: 'UTC',
      },
    });
    const host = new FunctionHost(
      {
        logicalId: id,
        functionName: physical.ref,
        functionArn: physical.attributes.Arn ?? '',
        codeDirectory,
        appDir: options.appDir ?? process.cwd(),
        ...configurationOf(p),
      },
      { concurrency: options.concurrency, log },
    );
    reconfigure.set(id, (source, q) =>
      host.update({
        ...configurationOf(q),
        codeDirectory: codeDirectoryOf(source, id, q) ?? host.definition.codeDirectory,
      }),
    );
    hosts.set(physical.ref, host);
    hosts.set(physical.attributes.Arn ?? '', host);
    hosts.set(id, host);
    onStop(() => host.close());
  }
  if (iamMode !== 'off') {
    onStop(() => {
      print('IAM, per function (granted, used, denied):');
      for (const enforcer of roles.values())
        for (const line of describeReport(enforcer.report())) print(line);
    });
  }
  const { targets, publish, qualify } = qualifiedTargets(deployed, hosts);
  return { hosts, targets, publish, qualify, proxies, calls, roles, reconfigure };
};

/**
 * The functions' versions and aliases, each invoking the function's current code as that
 * version (an alias as the version it points at), with the qualified ARN it was invoked by.
 */
const qualifiedTargets = (
  { stack, provisioned, context }: Deployed,
  hosts: ReadonlyMap<string, FunctionHost>,
) => {
  const targets = new Map<string, InvokeTarget>();
  const add = (host: FunctionHost, qualifier: string, version: () => string) => {
    const { functionArn, functionName, logicalId } = host.definition;
    const arn = qualifier === '' ? functionArn : `${functionArn}:${qualifier}`;
    const target: InvokeTarget = {
      host,
      arn,
      invoke: (event) =>
        qualifier === ''
          ? host.invoke(event)
          : host.invoke(event, { version: version(), invokedFunctionArn: arn }),
    };
    const suffix = qualifier === '' ? '' : `:${qualifier}`;
    for (const key of [arn, `${functionName}${suffix}`, `${logicalId}${suffix}`]) {
      targets.set(key, target);
    }
  };
  for (const host of new Set(hosts.values())) {
    add(host, '', () => '$LATEST');
    add(host, '$LATEST', () => '$LATEST');
  }
  const qualify: HostedFunctions['qualify'] = new Map();
  const resources = provisioned.resources as Record<string, PhysicalResource>;
  const publish = (id: string, p: Record<string, unknown>) => {
    resources[id] ??= versionResource(id, p, resources, {
      accountId: LOCAL_ACCOUNT_ID,
      region: LOCAL_REGION,
    });
    const version = resources[id]?.attributes.Version ?? '';
    const host = hosts.get(String(p.FunctionName));
    if (host !== undefined) add(host, version, () => version);
  };
  const alias = (id: string, p: Record<string, unknown>) => {
    const host = hosts.get(String(p.FunctionName));
    if (host === undefined) return;
    let version = String(p.FunctionVersion);
    add(host, String(p.Name), () => version);
    qualify.set(id, (q) => {
      if (q.Name !== p.Name || q.FunctionName !== p.FunctionName) throw new Error('replaced');
      version = String(q.FunctionVersion);
    });
  };
  for (const [id, resource] of Object.entries(stack.template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Version') continue;
    publish(id, resolve(resource.Properties ?? {}, context) as Record<string, unknown>);
  }
  for (const [id, resource] of Object.entries(stack.template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Alias') continue;
    alias(id, resolve(resource.Properties ?? {}, context) as Record<string, unknown>);
  }
  return { targets, publish, qualify };
};

/** The template's SNS → SQS subscriptions and S3 → SQS notifications, for the flow lines. */
const consumerRoutes = (
  { options }: Step,
  { stack, provisioned, context }: Deployed,
): ConsumerRoute[] => {
  const resources = Object.entries(stack.template.Resources);
  const queueByArn = new Map(
    resources
      .filter(([, r]) => r.Type === 'AWS::SQS::Queue')
      .map(([id, r]) => [provisioned.resources[id]?.attributes.Arn ?? '', { id, r }]),
  );
  const nameOfQueue = (queue: { id: string; r: CfnResource } | undefined) =>
    queue && (options.nameOf?.(queue.id, queue.r) ?? constructIdOf(queue.r) ?? queue.id);
  const maxReceiveCountOf = (queue: { r: CfnResource } | undefined) => {
    const redrive = (queue?.r.Properties?.RedrivePolicy ?? {}) as { maxReceiveCount?: number };
    return redrive.maxReceiveCount === undefined ? undefined : Number(redrive.maxReceiveCount);
  };
  // S3 event notifications to queues: each event goes to its queue alone.
  const notified = resources.flatMap(([, notifications]): ConsumerRoute[] => {
    if (notifications.Type !== 'Custom::S3BucketNotifications') return [];
    const p = resolve(notifications.Properties ?? {}, context) as {
      BucketName?: string;
      NotificationConfiguration?: { QueueConfigurations?: { QueueArn: string }[] };
    };
    return (p.NotificationConfiguration?.QueueConfigurations ?? []).map(({ QueueArn }) => {
      const queue = queueByArn.get(QueueArn);
      return {
        name: nameOfQueue(queue) ?? QueueArn,
        topicArn: `arn:aws:s3:::${p.BucketName ?? ''}`,
        from: 'bucket',
        queueArn: QueueArn,
        filterPolicyScope: 'MessageAttributes',
        maxReceiveCount: maxReceiveCountOf(queue),
      };
    });
  });
  const subscribed = resources.flatMap(([, subscription]): ConsumerRoute[] => {
    if (subscription.Type !== 'AWS::SNS::Subscription') return [];
    const p = resolve(subscription.Properties ?? {}, context) as Record<string, unknown>;
    if (p.Protocol !== 'sqs') return [];
    const queue = queueByArn.get(p.Endpoint as string);
    return [
      {
        name: nameOfQueue(queue) ?? String(p.Endpoint),
        topicArn: p.TopicArn as string,
        queueArn: p.Endpoint as string,
        filterPolicy: p.FilterPolicy as Record<string, unknown> | undefined,
        filterPolicyScope:
          p.FilterPolicyScope === 'MessageBody' ? 'MessageBody' : 'MessageAttributes',
        maxReceiveCount: maxReceiveCountOf(queue),
      },
    ];
  });
  return [...notified, ...subscribed];
};

/** A mapping's maximum record age, shrunk by `--record-age-scale`; -1 (no limit) stays -1. */
const scaledRecordAge = (seconds: number, scale: number): number =>
  seconds < 0 ? seconds : seconds * scale;

/** The running pollers: how many, and how to apply a mapping's new properties, by logical id. */
interface RunningPollers {
  readonly count: number;
  readonly update: Map<string, (p: Record<string, unknown>) => void>;
}

/** Event source mappings → pollers, as Lambda's would poll. */
const startPollers = async (
  step: Step,
  { stack, provisioned, context }: Deployed,
  clients: Clients,
  functions: HostedFunctions,
  flows: FlowTracker,
  deliveries: Delivery[],
): Promise<RunningPollers> => {
  const { options, print, onStop, stopping } = step;
  const physicalByAttribute = (value: string): PhysicalResource | undefined =>
    Object.values(provisioned.resources).find(
      (r) => r.ref === value || Object.values(r.attributes).includes(value),
    );
  const onError = (id: string) => (error: unknown) => {
    if (!stopping()) print(`poller ${id}: ${String(error)}`);
  };
  let mappings = 0;
  const update: RunningPollers['update'] = new Map();
  for (const [id, resource] of Object.entries(stack.template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::EventSourceMapping') continue;
    const p = resolve(resource.Properties ?? {}, context) as Record<string, unknown>;
    // A mapping of a version or an alias invokes it qualified, as Lambda does.
    const target = functions.targets.get(p.FunctionName as string);
    if (target === undefined) {
      print(`event source mapping ${id} is NOT EMULATED: its function does not run here`);
      continue;
    }
    const source = physicalByAttribute(p.EventSourceArn as string);
    const enforcer = functions.roles.get(target.host.definition.logicalId);
    if (
      enforcer !== undefined &&
      enforcer.mode !== 'off' &&
      (source?.type === 'AWS::SQS::Queue' || source?.type === 'AWS::DynamoDB::Table')
    ) {
      const denial = mappingDenial(
        enforcer,
        source.type === 'AWS::SQS::Queue'
          ? { kind: 'sqs', arn: source.attributes.Arn ?? '' }
          : { kind: 'stream', arn: String(p.EventSourceArn) },
        LOCAL_REGION,
      );
      if (denial !== undefined && enforcer.mode === 'enforce') {
        print(
          `event source mapping ${id} NOT RUN: ${denial}, and Lambda refuses to create such a mapping (the deploy fails)`,
        );
        continue;
      }
      if (denial !== undefined) {
        print(`event source mapping ${id} would not deploy: ${denial} (IAM reported: run anyway)`);
      }
    }
    /** The settings the mapping's properties give, whichever the source. */
    const common = (q: Record<string, unknown>) => ({
      maximumBatchingWindowSeconds:
        Number(q.MaximumBatchingWindowInSeconds ?? 0) * options.timeScale,
      reportBatchItemFailures: ((q.FunctionResponseTypes as string[] | undefined) ?? []).includes(
        'ReportBatchItemFailures',
      ),
      filters: parseFilterCriteria(q.FilterCriteria),
    });
    if (source?.type === 'AWS::SQS::Queue') {
      const queueArn = source.attributes.Arn ?? '';
      const settingsOf = (q: Record<string, unknown>) => ({
        queueUrl: source.ref,
        queueArn,
        region: LOCAL_REGION,
        batchSize: Number(q.BatchSize ?? 10),
        ...common(q),
        pollers: 2,
      });
      const poller = new SqsPoller({
        sqs: clients.sqs,
        target,
        settings: settingsOf(p),
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
        onError: onError(id),
      });
      poller.start();
      onStop(() => poller.stop());
      update.set(id, (q) => poller.updateSettings(settingsOf(q)));
    } else if (source?.type === 'AWS::DynamoDB::Table') {
      const destinationArn = (
        p.DestinationConfig as { OnFailure?: { Destination?: string } } | undefined
      )?.OnFailure?.Destination;
      const destination = destinationArn ? physicalByAttribute(destinationArn) : undefined;
      const mappingId = provisioned.resources[id]?.ref ?? id;
      let onFailure =
        destinationArn === undefined
          ? undefined
          : {
              arn: destinationArn,
              queueUrl: destination?.type === 'AWS::SQS::Queue' ? destination.ref : undefined,
              bucket: destination?.type === 'AWS::S3::Bucket' ? destination.ref : undefined,
            };
      if (onFailure !== undefined && enforcer !== undefined && enforcer.mode !== 'off') {
        // Lambda writes what it gives up on with the function's role: where S3 files it, or the queue or topic.
        const writes = onFailure.bucket
          ? [
              {
                action: 's3:PutObject',
                resource: `arn:aws:s3:::${onFailure.bucket}/aws/lambda/${mappingId}/`,
              },
              { action: 's3:ListBucket', resource: `arn:aws:s3:::${onFailure.bucket}` },
            ]
          : [
              onFailure.queueUrl
                ? { action: 'sqs:SendMessage', resource: onFailure.arn }
                : { action: 'sns:Publish', resource: onFailure.arn },
            ];
        const denial = destinationDenial(enforcer, writes, LOCAL_REGION);
        if (denial !== undefined) {
          print(
            `event source mapping ${id}: records it gives up on are lost: ${denial}` +
              (enforcer.mode === 'enforce' ? '' : ' (IAM reported: written anyway)'),
          );
          if (enforcer.mode === 'enforce') onFailure = undefined;
        }
      }
      const settingsOf = (q: Record<string, unknown>) => ({
        streamArn: p.EventSourceArn as string,
        functionArn: target.arn,
        mappingId,
        region: LOCAL_REGION,
        startingPosition: (p.StartingPosition === 'LATEST' ? 'LATEST' : 'TRIM_HORIZON') as
          | 'LATEST'
          | 'TRIM_HORIZON',
        batchSize: Number(q.BatchSize ?? 100),
        ...common(q),
        bisectBatchOnFunctionError: q.BisectBatchOnFunctionError === true,
        maximumRetryAttempts: Number(q.MaximumRetryAttempts ?? -1),
        maximumRecordAgeSeconds: scaledRecordAge(
          Number(q.MaximumRecordAgeInSeconds ?? -1),
          options.recordAgeScale ?? 1,
        ),
        onFailure,
        retryBaseDelayMs: 1000 * options.timeScale,
      });
      const poller = new StreamPoller({
        streams: clients.streams,
        sqs: clients.sqs,
        sns: clients.sns,
        s3: clients.s3,
        target,
        settings: settingsOf(p),
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
        onError: onError(id),
      });
      await poller.start();
      onStop(() => poller.stop());
      update.set(id, (q) => poller.updateSettings(settingsOf(q)));
    } else {
      print(
        `event source mapping ${id} is NOT EMULATED: source ${String(p.EventSourceArn)} (only SQS queues and DynamoDB streams are)`,
      );
      continue;
    }
    mappings += 1;
  }
  return { count: mappings, update };
};

/** The template's HTTP API (API Gateway v2), served on loopback. Returns its URL, if any. */
const serveHttpApi = async (
  { options, print, onStop }: Step,
  { stack, provisioned, context }: Deployed,
  functions: HostedFunctions,
): Promise<string | undefined> => {
  const resources = Object.entries(stack.template.Resources);
  const ofType = (type: string) => resources.filter(([, r]) => r.Type === type);
  const apis = ofType('AWS::ApiGatewayV2::Api');
  const [apiEntry] = apis;
  if (apiEntry === undefined) return undefined;
  if (apis.length > 1) {
    print(`NOT EMULATED: ${apis.length - 1} more HTTP API(s); only ${apiEntry[0]} is served`);
  }
  const integrations = new Map(
    ofType('AWS::ApiGatewayV2::Integration').map(([id, r]) => [
      id,
      resolve(r.Properties ?? {}, context) as Record<string, unknown>,
    ]),
  );
  const iamRoutes: string[] = [];
  const credentials = apiCredentials();
  const httpRoutes = ofType('AWS::ApiGatewayV2::Route').flatMap(([id, r]) => {
    const p = r.Properties ?? {};
    const targetRef = resolveString(p.Target, context);
    const integrationId = resources.find(
      ([logicalId]) =>
        provisioned.resources[logicalId]?.ref === targetRef.replace(/^integrations\//, ''),
    )?.[0];
    const integration = integrationId ? integrations.get(integrationId) : undefined;
    // An integration with an alias (or a version) invokes it qualified.
    const target = functions.targets.get(String(integration?.IntegrationUri ?? ''));
    if (target === undefined) {
      print(`route ${id} is NOT EMULATED: its integration is not a function that runs here`);
      return [];
    }
    const routeKey = resolveString(p.RouteKey, context);
    if (p.AuthorizationType === 'AWS_IAM') iamRoutes.push(routeKey);
    return [{ routeKey, target }];
  });
  const api = await startHttpApi({
    routes: httpRoutes,
    apiId: provisioned.resources[apiEntry[0]]?.ref ?? 'local',
    accountId: LOCAL_ACCOUNT_ID,
    region: LOCAL_REGION,
    port: options.apiPort,
    onRequest: (entry) =>
      print(`${entry.method} ${entry.path} ${entry.status} (${Math.round(entry.durationMs)} ms)`),
    authorize:
      (options.iam ?? 'enforce') === 'off' || iamRoutes.length === 0
        ? undefined
        : async (routeKey, request) => {
            if (!iamRoutes.includes(routeKey)) return true;
            if (await verifyApiRequest(credentials, LOCAL_REGION, request)) return true;
            if (options.iam === 'report') {
              print(
                `  ${request.method} ${routeKey}: no valid SigV4 signature (IAM reported: let through)`,
              );
              return true;
            }
            return false;
          },
  });
  onStop(() => api.close());
  print(`HTTP API: ${httpRoutes.length} routes on ${api.url}`);
  if (iamRoutes.length > 0 && (options.iam ?? 'enforce') !== 'off') {
    print(
      `${iamRoutes.length} routes require AWS_IAM: sign with access key ${credentials.accessKeyId} ` +
        `(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY of this process, else test/test), service execute-api, region ${LOCAL_REGION}`,
    );
  } else if (iamRoutes.length > 0) {
    print(`${iamRoutes.length} routes require AWS_IAM: not checked (--iam off)`);
  }
  return api.url;
};

const writeState = ({ options, onStop }: Step, state: LocalCloudState): void => {
  writeLocalCloudState(options.stateFile, state);
  onStop(() => fs.rmSync(options.stateFile, { force: true }));
};

/**
 * Runs a synthesized CDK stack on the emulator: provisions the template's resources,
 * runs each Node.js function's bundle with its own environment, drives them from their
 * event sources as Lambda would, and serves the HTTP API. What it cannot run, it names.
 */
export const startLocalCloud = async (options: LocalCloudOptions): Promise<RunningLocalCloud> => {
  const startedAt = Date.now();
  const cleanups: Cleanup[] = [];
  let stopping = false;
  const stop = async () => {
    stopping = true;
    for (const cleanup of cleanups.splice(0).reverse()) {
      await Promise.resolve(cleanup()).catch((error: unknown) =>
        options.print(`stop: ${String(error)}`),
      );
    }
  };
  const step: Step = {
    options,
    print: options.print,
    onStop: (cleanup) => cleanups.push(cleanup),
    stopping: () => stopping,
  };
  // Printed first, so that even a run that fails to start can be replayed.
  const faultSeed = options.faultSeed ?? randomSeed();
  if (options.faultRate) {
    options.print(
      `faults: ${Number((options.faultRate * 100).toPrecision(6))} % of every function's AWS calls (seed ${faultSeed})`,
    );
  }
  options.print(
    {
      enforce:
        "IAM enforced: each function's AWS calls are evaluated against its role in the template",
      report: 'IAM reported, not enforced: calls its role would deny go through and are listed',
      off: 'IAM off: no call is evaluated',
    }[options.iam ?? 'enforce'],
  );
  try {
    const sidecars = await startSidecars(step);
    // The emulator starts while the app synthesizes: neither needs the other.
    const [endpoint, { stack, how }] = await Promise.all([
      startEmulator(step),
      synthesizeOrReuse(step, sidecars.context),
    ]);
    const clients = emulatorClients(endpoint);
    const provisioned = await provisionStack(
      step,
      stack,
      clients,
      options.timeScale,
      options.iam ?? 'enforce',
    );
    const context: ResolveContext = {
      resources: provisioned.resources,
      accountId: LOCAL_ACCOUNT_ID,
      region: LOCAL_REGION,
      stackName: stack.stackName,
    };
    const deployed: Deployed = { stack, provisioned, context };
    const functions = await hostFunctions(step, deployed, endpoint, faultSeed);
    const flows = new FlowTracker(consumerRoutes(step, deployed), step.print, {
      label: options.labelOf,
    });
    step.onStop(() => flows.stop());
    const deliveries: Delivery[] = [];
    const pollers = await startPollers(step, deployed, clients, functions, flows, deliveries);
    const apiUrl = await serveHttpApi(step, deployed, functions);
    // The control API: tests and tools drive the cloud through it.
    const control = await startControlApi(
      functions.targets,
      functions.proxies,
      {
        calls: functions.calls,
        deliveries,
        iam: () => [...functions.roles.values()].map((enforcer) => enforcer.report()),
      },
      { seed: faultSeed, print: step.print },
    );
    step.onStop(() => closeServer(control.server));
    if (options.watch !== undefined) {
      watchCode(step, deployed, functions, pollers, sidecars.context, options.watch);
    }

    const resources = stack.template.Resources;
    const state: LocalCloudState = {
      stackName: stack.stackName,
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT_ID,
      endpoint,
      apiUrl: apiUrl ?? '',
      sidecars: sidecars.urls,
      controlUrl: control.url,
      timeScale: options.timeScale,
      templateFile: stack.templateFile,
      resources: Object.fromEntries(
        Object.entries(provisioned.resources).map(([id, r]) => {
          const cdkPath = resources[id]?.Metadata?.['aws:cdk:path'];
          return [id, typeof cdkPath === 'string' ? { ...r, constructPath: cdkPath } : r];
        }),
      ),
      pid: process.pid,
    };
    writeState(step, state);
    step.print(
      `functions: ${new Set(functions.hosts.values()).size}, event source mappings: ${pollers.count}`,
    );
    return { state, assembly: how, readyInMs: Date.now() - startedAt, stop };
  } catch (error) {
    await stop();
    throw error;
  }
};
