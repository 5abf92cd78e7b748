import type { Template } from 'aws-cdk-lib/assertions';
import { synthPipeline } from '../synth';
import {
  denyWithoutTls,
  getAtt,
  queuePolicyStatements,
  resourcesOfType,
} from '../template-queries';

describe('every SQS queue of the pipeline', () => {
  let template: Template;
  let queueIds: string[];
  beforeAll(() => {
    ({ template } = synthPipeline('dev'));
    queueIds = Object.keys(resourcesOfType(template, 'AWS::SQS::Queue'));
  });

  test('there are queues to check: each consumer has three, the avatar uploads two (the publisher keeps failures in S3)', () => {
    expect(queueIds).toHaveLength(14);
  });

  test('is encrypted with SSE-SQS, never a KMS key SNS could not use', () => {
    for (const [id, queue] of Object.entries(resourcesOfType(template, 'AWS::SQS::Queue'))) {
      expect({ id, ...queue.Properties }).toEqual(
        expect.objectContaining({ id, SqsManagedSseEnabled: true }),
      );
      expect({ id, KmsMasterKeyId: queue.Properties.KmsMasterKeyId }).toEqual({ id });
    }
  });

  test('refuses every request that does not use TLS', () => {
    for (const id of queueIds) {
      const deny = denyWithoutTls(queuePolicyStatements(template, id), 'sqs:*');
      expect({ id, deny }).toEqual({
        id,
        deny: [expect.objectContaining({ Resource: getAtt(id, 'Arn') })],
      });
    }
  });
});
