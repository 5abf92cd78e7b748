import type { Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import type { StageConfig } from '../../lib/config';
import { EventConsumer } from '../../lib/constructs/event-consumer';
import { NotificationSecret } from '../../lib/constructs/notification-secret';
import { PipelineFunction } from '../../lib/constructs/pipeline-function';
import { synthPipeline } from '../synth';
import {
  constructsOfType,
  logicalIdOf,
  ref,
  resourceById,
  resourcesOfType,
  roleIdOfFunction,
  statementsAllowing,
} from '../template-queries';

/** The plain strings a function's environment may hold: the handler names and the endpoint. */
const plainValuesOf = (stack: Stack, config: StageConfig): string[] => [
  ...constructsOfType(stack, PipelineFunction).map((fn) => fn.handlerDir),
  // The metrics' namespace.
  stack.stackName,
  config.notificationEndpoint,
  String(config.avatarMaxBytes),
];

describe('NotificationSecret', () => {
  let template: Template;
  let config: StageConfig;
  let stack: Stack;
  let secretId: string;
  let welcomeFunctionId: string;
  beforeAll(() => {
    const synthesized = synthPipeline('dev');
    ({ template, config, stack } = synthesized);
    const [notificationSecret] = constructsOfType(synthesized.stack, NotificationSecret);
    const welcome = constructsOfType(synthesized.stack, EventConsumer).find(
      (c) => c.node.id === 'WelcomeConsumer',
    );
    if (!notificationSecret || !welcome) throw new Error('expected the secret and welcome');
    secretId = logicalIdOf(synthesized.stack, notificationSecret.secret);
    welcomeFunctionId = logicalIdOf(synthesized.stack, welcome.function);
  });

  test('is one generated secret: no key value is ever in the template', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    const { Properties } = resourceById(template, secretId);
    expect(Properties.GenerateSecretString).toBeDefined();
    expect(Properties.SecretString).toBeUndefined();
  });

  test('is named by convention, stage-scoped and hierarchical, so operators find it and IAM can scope it by name', () => {
    expect(resourceById(template, secretId).Properties.Name).toBe(
      'customer-pipeline/dev/notification-provider/api-key',
    );
    const prod = synthPipeline('prod').template;
    expect(Object.values(resourcesOfType(prod, 'AWS::SecretsManager::Secret'))).toEqual([
      expect.objectContaining({
        Properties: expect.objectContaining({
          Name: 'customer-pipeline/prod/notification-provider/api-key',
        }),
      }),
    ]);
  });

  test('tells the welcome function where the key is: its ARN', () => {
    const { Environment } = resourceById(template, welcomeFunctionId).Properties as {
      Environment: { Variables: Record<string, unknown> };
    };
    expect(Environment.Variables.NOTIFICATION_API_KEY_SECRET_ARN).toEqual(ref(secretId));
  });

  test('no function has a literal environment value besides the known settings', () => {
    const plain = plainValuesOf(stack, config);
    const literals = Object.entries(resourcesOfType(template, 'AWS::Lambda::Function')).flatMap(
      ([id, fn]) => {
        const { Environment } = fn.Properties as {
          Environment?: { Variables: Record<string, unknown> };
        };
        return Object.entries(Environment?.Variables ?? {})
          .filter(([, value]) => typeof value !== 'object' || value === null)
          .map(([name, value]) => ({ function: id, name, value }));
      },
    );
    expect(literals.length).toBeGreaterThan(0);
    expect(literals.filter(({ value }) => !plain.includes(value as string))).toEqual([]);
  });

  test('lets the welcome function read the key value, and only that secret', () => {
    expect(
      statementsAllowing(template, welcomeFunctionId, 'secretsmanager:GetSecretValue'),
    ).toEqual([expect.objectContaining({ Resource: ref(secretId) })]);
  });

  test('no other role mentions Secrets Manager', () => {
    const welcomeRoleId = roleIdOfFunction(template, welcomeFunctionId);
    const roles = resourcesOfType(template, 'AWS::IAM::Role');
    const policies = resourcesOfType(template, 'AWS::IAM::Policy');
    const others = [
      ...Object.entries(roles).filter(([id]) => id !== welcomeRoleId),
      ...Object.entries(policies).filter(
        ([, policy]) =>
          JSON.stringify(policy.Properties.Roles) !== JSON.stringify([ref(welcomeRoleId)]),
      ),
    ];
    expect(others.length).toBeGreaterThan(0);
    for (const [id, resource] of others) {
      expect({ id, mentions: JSON.stringify(resource).includes('secretsmanager') }).toEqual({
        id,
        mentions: false,
      });
    }
  });
});
