import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import * as z from 'zod/mini';
import { type Avatar, type Customer, customerIdSchema, customerSchema } from '../domain/customer';
import { tombstoneOf } from '../domain/deletion';
import { EmailTaken, VersionConflict } from '../domain/errors';
import { emailClaimKey, marketingConsentKey, profileKey, welcomeKey } from '../domain/keys';
import {
  classifyDynamoError,
  type RetryOptions,
  unavailableIfBusy,
  withDynamoRetries,
} from './dynamodb-errors';

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

const emailClaimSchema = z.object({ customerId: customerIdSchema });

export interface ReadOptions {
  /** Strongly consistent: required when the read decides a write. */
  readonly consistent?: boolean;
}

/**
 * Whether an avatar was recorded; if not, the profile that stood in its way (one with an avatar
 * from the same or a later upload), or `undefined` when the customer no longer exists.
 */
export type AvatarRecording =
  | { readonly recorded: true }
  | { readonly recorded: false; readonly current: Customer | undefined };

/** Positions of the transaction items whose condition failed; none for any other error. */
const failedConditions = (error: unknown): ReadonlySet<number> => {
  const failure = classifyDynamoError(error);
  return failure.kind === 'conditional' ? failure.failed : new Set();
};

/**
 * The customers' storage: a profile item per customer plus one claim item per
 * email address, written together so that an email belongs to one customer.
 * Every write is a transaction that DynamoDB may cancel for a conflict with another
 * (the welcome claim's condition check on the profile, a racing request) or for
 * throttling: it is retried, and a store still busy after that is `TemporarilyUnavailable`.
 */
export class CustomerRepository {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly retry: RetryOptions = {},
  ) {}

  async findById(id: string, options: ReadOptions = {}): Promise<Customer | undefined> {
    const { Item } = await unavailableIfBusy(() =>
      this.client.send(
        new GetCommand({
          TableName: this.tableName,
          Key: profileKey(id),
          ConsistentRead: options.consistent ?? false,
        }),
      ),
    );
    // Parsing strips pk/sk and fails loudly on a corrupt item rather than returning it.
    return Item === undefined ? undefined : customerSchema.parse(Item);
  }

  /**
   * The customer that holds `email`, which must already be normalised (emailSchema
   * lower-cases it). The claim and the profile are two reads, each eventually
   * consistent: right after an email change the claim may name a customer whose
   * profile has another email by now, and that customer is not the answer.
   */
  async findByEmail(email: string, options: ReadOptions = {}): Promise<Customer | undefined> {
    const { Item } = await unavailableIfBusy(() =>
      this.client.send(
        new GetCommand({
          TableName: this.tableName,
          Key: emailClaimKey(email),
          ConsistentRead: options.consistent ?? false,
        }),
      ),
    );
    if (Item === undefined) return undefined;
    const customer = await this.findById(emailClaimSchema.parse(Item).customerId, options);
    return customer?.email === email ? customer : undefined;
  }

  private transact(items: TransactItem[]): Promise<unknown> {
    return withDynamoRetries(
      () => this.client.send(new TransactWriteCommand({ TransactItems: items })),
      this.retry,
    );
  }

  /** @throws EmailTaken when another customer holds the email. */
  async create(customer: Customer): Promise<void> {
    try {
      await this.transact([
        this.putNew({ ...profileKey(customer.id), ...customer }),
        this.putNew(this.claimItem(customer)),
      ]);
    } catch (error) {
      if (failedConditions(error).has(1)) throw new EmailTaken(customer.email);
      throw error;
    }
  }

  /**
   * Writes `next` over `current` if nobody wrote in between, moving the email
   * claim in the same transaction when the email changed.
   * @throws VersionConflict when the stored version is no longer `current.version`.
   * @throws EmailTaken when another customer holds the new email.
   */
  async replace(current: Customer, next: Customer): Promise<void> {
    const items: TransactItem[] = [
      {
        Put: {
          TableName: this.tableName,
          Item: { ...profileKey(next.id), ...next },
          ...this.versionIs(current),
        },
      },
    ];
    if (next.email !== current.email) {
      items.push(this.deleteClaim(current), this.putNew(this.claimItem(next)));
    }
    try {
      await this.transact(items);
    } catch (error) {
      const failed = failedConditions(error);
      if (failed.has(0)) throw new VersionConflict(current.id);
      if (failed.has(2)) throw new EmailTaken(next.email);
      throw error;
    }
  }

  /**
   * Deletes the customer, all or nothing: the profile (on condition that it is still
   * `current`), the email claim and the welcome claim go, and the consent record
   * becomes the customer's tombstone, which expires after the TTL. Every item is named
   * by its key, so an item a consumer writes while the deletion runs cannot be missed:
   * it was written before this transaction (and is removed by it) or after it (and its
   * own condition on the profile stopped it).
   * @throws VersionConflict when the stored version is no longer `current.version`.
   */
  async delete(current: Customer, now: Date): Promise<void> {
    const items: TransactItem[] = [
      {
        Delete: {
          TableName: this.tableName,
          Key: profileKey(current.id),
          ...this.versionIs(current),
        },
      },
      this.deleteClaim(current),
      { Delete: { TableName: this.tableName, Key: welcomeKey(current.id) } },
      {
        Put: {
          TableName: this.tableName,
          Item: { ...marketingConsentKey(current.id), ...tombstoneOf(current.version, now) },
        },
      },
    ];
    try {
      await this.transact(items);
    } catch (error) {
      if (failedConditions(error).has(0)) throw new VersionConflict(current.id);
      throw error;
    }
  }

  /**
   * Records `avatar` on the profile and bumps its version (an avatar change is a customer
   * change: the stream publishes it, and ETags move), on condition that the customer exists
   * and holds no avatar from the same or a later upload (`avatar.sequencer` orders uploads).
   * A single-item update: no email claim moves, and a PUT racing it fails its version check.
   */
  async recordAvatar(customerId: string, avatar: Avatar): Promise<AvatarRecording> {
    try {
      await withDynamoRetries(
        () =>
          this.client.send(
            new UpdateCommand({
              TableName: this.tableName,
              Key: profileKey(customerId),
              UpdateExpression: 'SET avatar = :avatar, version = version + :one, updatedAt = :now',
              ConditionExpression:
                'attribute_exists(pk) AND (attribute_not_exists(avatar) OR avatar.sequencer < :sequencer)',
              ExpressionAttributeValues: {
                ':avatar': avatar,
                ':one': 1,
                ':now': avatar.updatedAt,
                ':sequencer': avatar.sequencer,
              },
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            }),
          ),
        this.retry,
      );
      return { recorded: true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const item = error.Item === undefined ? undefined : unmarshall(error.Item);
      return {
        recorded: false,
        current: item === undefined ? undefined : customerSchema.parse(item),
      };
    }
  }

  private claimItem(customer: Customer): Record<string, unknown> {
    return { ...emailClaimKey(customer.email), customerId: customer.id };
  }

  private putNew(item: Record<string, unknown>): TransactItem {
    return {
      Put: {
        TableName: this.tableName,
        Item: item,
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    };
  }

  private deleteClaim(owner: Customer): TransactItem {
    return {
      Delete: {
        TableName: this.tableName,
        Key: emailClaimKey(owner.email),
        ConditionExpression: 'customerId = :id',
        ExpressionAttributeValues: { ':id': owner.id },
      },
    };
  }

  /** The optimistic lock: the write happens only on the version the caller read. */
  private versionIs(current: Customer) {
    return {
      ConditionExpression: 'version = :expected',
      ExpressionAttributeValues: { ':expected': current.version },
    };
  }
}
