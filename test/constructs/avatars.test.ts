import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { AssetsBucket } from '../../lib/constructs/assets-bucket';
import {
  AVATAR_FUNCTION_WRITE_PREFIXES,
  Avatars,
  NOTIFICATIONS_HANDLER_ID_PREFIX,
} from '../../lib/constructs/avatars';
import { PipelineFunction } from '../../lib/constructs/pipeline-function';
import { synthPipeline } from '../synth';
import {
  asList,
  type CfnResourceJson,
  constructsOfType,
  depthAlarmsOf,
  eventSourceMappingsOf,
  getAtt,
  logicalIdOf,
  queuePolicyStatements,
  ref,
  resourceById,
  resourcesOfType,
  statementsAllowing,
} from '../template-queries';

interface QueueConfigurationJson {
  readonly Events: string[];
  readonly Filter?: { readonly Key: { readonly FilterRules: { Name: string; Value: string }[] } };
  readonly QueueArn: unknown;
}

/** The object keys a grant's resource covers, as a prefix: `<bucket arn>/avatars/*` → `avatars/`. */
const grantedPrefix = (resource: unknown): string => {
  const parts = (resource as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
  const keys = parts.at(-1);
  if (typeof keys !== 'string' || !keys.endsWith('*')) {
    throw new Error(`unexpected object resource ${JSON.stringify(resource)}`);
  }
  return keys.slice(1, -1);
};

/** Whether some key could start with both prefixes: one of them starts with the other. */
const overlaps = (a: string, b: string): boolean => a.startsWith(b) || b.startsWith(a);

/** The rule ids acknowledged on `construct` itself (each entry is `{ "Annotation::<id>": reason }`). */
const acknowledgedRules = (construct: IConstruct): string[] =>
  construct.node.metadata
    .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
    .flatMap((entry) => Object.keys(entry.data as Record<string, string>))
    .map((key) => key.replace(/^Annotation::/, ''))
    .sort();

describe('Avatars in the pipeline', () => {
  let synthesized: ReturnType<typeof synthPipeline>;
  let ids: {
    function: string;
    bucket: string;
    uploadsQueue: string;
    uploadsDeadLetterQueue: string;
    deletionsQueue: string;
  };
  let avatars: Avatars;
  beforeAll(() => {
    synthesized = synthPipeline('dev');
    const { stack } = synthesized;
    const [found] = constructsOfType(stack, Avatars);
    const [assets] = constructsOfType(stack, AssetsBucket);
    if (!found || !assets) throw new Error('expected the avatars and the assets bucket');
    avatars = found;
    const id = (construct: IConstruct) => logicalIdOf(stack, construct);
    ids = {
      function: id(avatars.function),
      bucket: id(assets.bucket),
      uploadsQueue: id(avatars.uploadsQueue),
      uploadsDeadLetterQueue: id(avatars.uploadsDeadLetterQueue),
      deletionsQueue: id(avatars.deletions.queue),
    };
  });
  const template = () => synthesized.template;

  const notifications = (): CfnResourceJson[] =>
    Object.values(resourcesOfType(template(), 'Custom::S3BucketNotifications'));
  const queueConfigurations = (): QueueConfigurationJson[] =>
    notifications().flatMap(
      (n) =>
        (
          n.Properties.NotificationConfiguration as {
            QueueConfigurations?: QueueConfigurationJson[];
          }
        ).QueueConfigurations ?? [],
    );

  test('S3 notifies the uploads queue of every object created under avatar-uploads/, and of nothing else', () => {
    expect(notifications()).toHaveLength(1);
    expect(notifications()[0]?.Properties.BucketName).toEqual(ref(ids.bucket));
    expect(queueConfigurations()).toEqual([
      {
        Events: ['s3:ObjectCreated:*'],
        Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'avatar-uploads/' }] } },
        QueueArn: getAtt(ids.uploadsQueue, 'Arn'),
      },
    ]);
    const configuration = notifications()[0]?.Properties.NotificationConfiguration as object;
    expect(Object.keys(configuration)).toEqual(['QueueConfigurations']);
  });

  test('the uploads queue admits S3 for this bucket in this account only, over TLS, and its policy exists before S3 is configured', () => {
    const statements = queuePolicyStatements(template(), ids.uploadsQueue).map(
      ({ Sid: _sid, ...statement }) => statement,
    );
    expect(statements).toEqual([
      expect.objectContaining({
        Effect: 'Deny',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
      {
        Effect: 'Allow',
        Principal: { Service: 's3.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Resource: getAtt(ids.uploadsQueue, 'Arn'),
        Condition: {
          ArnEquals: { 'aws:SourceArn': getAtt(ids.bucket, 'Arn') },
          StringEquals: { 'aws:SourceAccount': '123456789012' },
        },
      },
    ]);
    const [notification] = Object.entries(
      resourcesOfType(template(), 'Custom::S3BucketNotifications'),
    );
    const policyIds = Object.entries(resourcesOfType(template(), 'AWS::SQS::QueuePolicy'))
      .filter(([, policy]) =>
        JSON.stringify(policy.Properties.Queues).includes(`"${ids.uploadsQueue}"`),
      )
      .map(([policyId]) => policyId);
    expect(policyIds).toHaveLength(1);
    const dependsOn = (
      resourceById(template(), notification?.[0] ?? '') as { DependsOn?: string[] }
    ).DependsOn;
    expect(dependsOn).toEqual(expect.arrayContaining(policyIds));
  });

  test('the recursion guard: no prefix the avatar function may write is one the notification watches', () => {
    const watched = queueConfigurations().flatMap(
      (c) =>
        c.Filter?.Key.FilterRules.filter((r) => r.Name === 'prefix').map((r) => r.Value) ?? [''],
    );
    const written = statementsAllowing(template(), ids.function, 's3:PutObject').flatMap((s) =>
      asList(s.Resource).map(grantedPrefix),
    );
    expect(written).toEqual([...AVATAR_FUNCTION_WRITE_PREFIXES]);
    expect(watched).toEqual(['avatar-uploads/']);
    for (const prefix of written) {
      for (const filter of watched)
        expect({ prefix, filter, overlaps: overlaps(prefix, filter) }).toEqual({
          prefix,
          filter,
          overlaps: false,
        });
    }
  });

  test('the avatar function drains both queues, one upload per invocation, with partial batch responses', () => {
    const mappings = eventSourceMappingsOf(template(), ids.function).map((m) => m.Properties);
    expect(mappings).toHaveLength(2);
    expect(mappings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          EventSourceArn: getAtt(ids.uploadsQueue, 'Arn'),
          BatchSize: 1,
          FunctionResponseTypes: ['ReportBatchItemFailures'],
        }),
        expect.objectContaining({
          EventSourceArn: getAtt(ids.deletionsQueue, 'Arn'),
          BatchSize: 10,
          FunctionResponseTypes: ['ReportBatchItemFailures'],
        }),
      ]),
    );
    const { Environment, MemorySize, Timeout } = resourceById(template(), ids.function)
      .Properties as {
      Environment: { Variables: Record<string, unknown> };
      MemorySize: number;
      Timeout: number;
    };
    expect(Environment.Variables.UPLOADS_QUEUE_ARN).toEqual(getAtt(ids.uploadsQueue, 'Arn'));
    expect(Environment.Variables.AVATAR_MAX_BYTES).toBe('5242880');
    expect({ MemorySize, Timeout }).toEqual({ MemorySize: 1024, Timeout: 30 });
  });

  test('an upload failed three times goes to its dead-letter queue, which alarms', () => {
    const queue = resourceById(template(), ids.uploadsQueue).Properties;
    expect(queue.RedrivePolicy).toEqual({
      deadLetterTargetArn: getAtt(ids.uploadsDeadLetterQueue, 'Arn'),
      maxReceiveCount: 3,
    });
    // Six times the function's timeout, plus the batching window.
    expect(queue.VisibilityTimeout).toBe(181);
    expect(depthAlarmsOf(template(), ids.uploadsDeadLetterQueue)).toHaveLength(1);
  });

  test("CDK's notifications handler is not one of the pipeline's functions, and only its two findings are acknowledged, on its role", () => {
    const { stack } = synthesized;
    const handler = stack.node.children.find((c) =>
      c.node.id.startsWith(NOTIFICATIONS_HANDLER_ID_PREFIX),
    );
    if (handler === undefined) throw new Error("expected CDK's notifications handler");
    const handlerFunctionId = Object.keys(
      resourcesOfType(template(), 'AWS::Lambda::Function'),
    ).find((id) => id.startsWith(NOTIFICATIONS_HANDLER_ID_PREFIX));
    const pipelineFunctionIds = constructsOfType(stack, PipelineFunction).map((fn) =>
      logicalIdOf(stack, fn),
    );
    expect(handlerFunctionId).toBeDefined();
    expect(pipelineFunctionIds).not.toContain(handlerFunctionId);
    const role = handler.node.findChild('Role');
    expect(acknowledgedRules(role)).toEqual([
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'AwsSolutions-IAM5[Resource::*]',
    ]);
    expect(acknowledgedRules(handler)).toEqual([]);
    expect(Stack.of(role)).toBe(stack);
  });
});
