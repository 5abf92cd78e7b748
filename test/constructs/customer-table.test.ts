import { Match, type Template } from 'aws-cdk-lib/assertions';
import { CustomerTable } from '../../lib/constructs/customer-table';
import { synthPipeline } from '../synth';
import { constructsOfType, logicalIdOf, resourceById } from '../template-queries';

const TABLE = 'AWS::DynamoDB::Table';

describe('CustomerTable', () => {
  let dev: ReturnType<typeof synthPipeline>;
  let prod: ReturnType<typeof synthPipeline>;
  let template: Template;
  beforeAll(() => {
    dev = synthPipeline('dev');
    prod = synthPipeline('prod');
    template = dev.template;
  });

  const tableOf = ({ stack, template }: ReturnType<typeof synthPipeline>) => {
    const [table, ...others] = constructsOfType(stack, CustomerTable);
    if (!table || others.length > 0) throw new Error('expected exactly one CustomerTable');
    return resourceById(template, logicalIdOf(stack, table.table));
  };

  test('is the only table of the stack', () => {
    template.resourceCountIs(TABLE, 1);
    expect(tableOf(dev).Type).toBe(TABLE);
  });

  test('keys every item by string pk (hash) and sk (range)', () => {
    template.hasResourceProperties(TABLE, {
      KeySchema: Match.exact([
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ]),
      AttributeDefinitions: Match.exact([
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ]),
    });
  });

  test('has no secondary index: every read is a point read', () => {
    template.hasResourceProperties(TABLE, {
      GlobalSecondaryIndexes: Match.absent(),
      LocalSecondaryIndexes: Match.absent(),
    });
  });

  test('bills per request', () => {
    template.hasResourceProperties(TABLE, { BillingMode: 'PAY_PER_REQUEST' });
  });

  test('streams every change with both the new and the old image', () => {
    template.hasResourceProperties(TABLE, {
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
    });
  });

  test('has point-in-time recovery', () => {
    template.hasResourceProperties(TABLE, {
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  test('is encrypted at rest', () => {
    template.hasResourceProperties(TABLE, { SSESpecification: { SSEEnabled: true } });
  });

  test('expires items by their expiresAt attribute (TTL)', () => {
    template.hasResourceProperties(TABLE, {
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
  });

  test('dev: is deleted with the stack and has no deletion protection', () => {
    const table = tableOf(dev);
    expect(table.DeletionPolicy).toBe('Delete');
    expect(table.UpdateReplacePolicy).toBe('Delete');
    expect(table.Properties.DeletionProtectionEnabled).not.toBe(true);
  });

  test('prod: is retained on stack deletion and protected from deletion', () => {
    const table = tableOf(prod);
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.UpdateReplacePolicy).toBe('Retain');
    expect(table.Properties.DeletionProtectionEnabled).toBe(true);
  });
});
