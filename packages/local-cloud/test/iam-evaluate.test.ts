import { matchesAction, matchesResource } from '../src/iam/evaluate';

const TABLE = 'arn:aws:dynamodb:us-east-1:123456789012:table/Customers';

describe('matchesAction', () => {
  test.each([
    ['s3:GetObject', 's3:GetObject', true],
    ['s3:getobject', 'S3:GetObject', true],
    ['s3:Get*', 's3:GetObjectVersion', true],
    ['s3:Get*', 's3:PutObject', false],
    ['s3:*', 'sqs:SendMessage', false],
    ['*', 'dynamodb:PutItem', true],
    ['kms:GenerateDataKey*', 'kms:GenerateDataKey', true],
    ['kms:GenerateDataKey*', 'kms:GenerateDataKeyWithoutPlaintext', true],
    ['kms:GenerateDataKey*', 'kms:Decrypt', false],
    ['s3:Get?bject', 's3:GetObject', true],
    ['s3:Get?bject', 's3:Getbject', false],
    // The whole action must match, not a prefix of it.
    ['dynamodb:Query', 'dynamodb:QueryTable', false],
    // A pattern's other characters are literal, not regular-expression syntax.
    ['sqs:Send.essage', 'sqs:SendMessage', false],
  ])('%s against %s: %s', (pattern, action, expected) => {
    expect(matchesAction(pattern, action)).toBe(expected);
  });
});

describe('matchesResource', () => {
  test.each([
    [TABLE, TABLE, true],
    ['*', TABLE, true],
    ['arn:aws:s3:::Bucket', 'arn:aws:s3:::bucket', false],
    ['arn:aws:s3:::bucket/*', 'arn:aws:s3:::bucket/avatars/2026/a.png', true],
    ['arn:aws:s3:::bucket/*', 'arn:aws:s3:::bucket', false],
    ['arn:aws:s3:::bucket', 'arn:aws:s3:::bucket/key', false],
    ['arn:aws:dynamodb:*:*:table/Customers', TABLE, true],
    [TABLE, `${TABLE}/index/byEmail`, false],
    [`${TABLE}/index/*`, `${TABLE}/index/byEmail`, true],
    // A wildcard spans `:` as well as `/`.
    ['arn:aws:*', TABLE, true],
    [
      'arn:aws:sqs:*:123456789012:dead-letters-?',
      'arn:aws:sqs:us-east-1:123456789012:dead-letters-1',
      true,
    ],
    [
      'arn:aws:sqs:*:123456789012:dead-letters-?',
      'arn:aws:sqs:us-east-1:123456789012:dead-letters-10',
      false,
    ],
  ])('%s against %s: %s', (pattern, arn, expected) => {
    expect(matchesResource(pattern, arn)).toBe(expected);
  });
});
