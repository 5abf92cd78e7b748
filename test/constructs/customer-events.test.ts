import type { Template } from 'aws-cdk-lib/assertions';
import { CustomerEvents } from '../../lib/constructs/customer-events';
import { StreamPublisher } from '../../lib/constructs/stream-publisher';
import { synthPipeline } from '../synth';
import {
  constructsOfType,
  denyWithoutTls,
  getAtt,
  logicalIdOf,
  ref,
  referencedId,
  resourceById,
  statementsAllowing,
  topicPolicyStatements,
} from '../template-queries';

describe('CustomerEvents', () => {
  let template: Template;
  let topicId: string;
  let keyId: string;
  let publisherFunctionId: string;
  beforeAll(() => {
    const synthesized = synthPipeline('dev');
    template = synthesized.template;
    const [events] = constructsOfType(synthesized.stack, CustomerEvents);
    const [publisher] = constructsOfType(synthesized.stack, StreamPublisher);
    if (!events || !publisher) throw new Error('expected the events topic and the publisher');
    topicId = logicalIdOf(synthesized.stack, events.topic);
    keyId = logicalIdOf(synthesized.stack, events.key);
    publisherFunctionId = logicalIdOf(synthesized.stack, publisher.function);
  });

  test('encrypts the topic with its own customer-managed key, rotated', () => {
    const topic = resourceById(template, topicId);
    expect(topic.Type).toBe('AWS::SNS::Topic');
    const masterKeyId = referencedId(topic.Properties.KmsMasterKeyId);
    expect(masterKeyId).toBe(keyId);
    const key = resourceById(template, keyId);
    expect(key.Type).toBe('AWS::KMS::Key');
    expect(key.Properties.EnableKeyRotation).toBe(true);
  });

  test('denies publishing to the topic without TLS', () => {
    const deny = denyWithoutTls(topicPolicyStatements(template, topicId), 'sns:Publish');
    expect(deny).toEqual([expect.objectContaining({ Resource: ref(topicId) })]);
  });

  test("lets the stream publisher use the topic's key to publish encrypted messages", () => {
    const keyStatements = statementsAllowing(template, publisherFunctionId, 'kms:GenerateDataKey*');
    expect(keyStatements).toEqual([
      expect.objectContaining({
        Action: expect.arrayContaining(['kms:GenerateDataKey*', 'kms:Decrypt']),
        Resource: getAtt(keyId, 'Arn'),
      }),
    ]);
    expect(statementsAllowing(template, publisherFunctionId, 'kms:Decrypt')).toEqual(keyStatements);
  });

  test('lets the stream publisher publish to the topic, and only to it', () => {
    expect(statementsAllowing(template, publisherFunctionId, 'sns:Publish')).toEqual([
      expect.objectContaining({ Resource: ref(topicId) }),
    ]);
  });
});
