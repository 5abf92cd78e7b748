import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { markResource } from '../resource-names';

export interface NotificationSecretProps {
  /** The stage, in the secret's name: `customer-pipeline/<stage>/notification-provider/api-key`. */
  readonly stage: string;
  /**
   * Keep the secret when the stack is deleted.
   * @default false - the secret is deleted with the stack
   */
  readonly retainData?: boolean;
}

/** The secret's name: the project, the stage, whose key it is, which key. */
export const notificationSecretName = (stage: string): string =>
  `customer-pipeline/${stage}/notification-provider/api-key`;

/**
 * The notification provider's API key. The stack creates it with a random
 * placeholder (so no key is ever in the template); the operator puts the real key
 * with `aws secretsmanager put-secret-value`. Functions get only the ARN and read
 * the value at run time. Its name follows a convention, stage-scoped and hierarchical,
 * so operators find it and IAM policies can scope `customer-pipeline/<stage>/*` by name.
 */
export class NotificationSecret extends Construct {
  public readonly secret: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: NotificationSecretProps) {
    super(scope, id);
    this.secret = new secretsmanager.Secret(this, 'ApiKey', {
      secretName: notificationSecretName(props.stage),
      description: 'Notification provider API key (bearer token for welcome messages)',
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
      removalPolicy: props.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    markResource(this.secret, 'notification', 'secret');
    Validations.of(this.secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        "A third-party provider's API key: the provider issues it, so Secrets Manager cannot rotate it; the runbook replaces it with put-secret-value.",
    });
  }

  /** Lets `fn` read the key at run time and tells it where: only the ARN, never the value. */
  public grantReadTo(fn: lambda.Function & iam.IGrantable): void {
    // Exactly what the function calls: not grantRead, which adds DescribeSecret.
    iam.Grant.addToPrincipalOrResource({
      grantee: fn,
      actions: ['secretsmanager:GetSecretValue'],
      resourceArns: [this.secret.secretArn],
      resource: this.secret,
    });
    fn.addEnvironment('NOTIFICATION_API_KEY_SECRET_ARN', this.secret.secretArn);
  }
}
