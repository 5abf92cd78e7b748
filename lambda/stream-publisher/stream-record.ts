import type { AttributeValue as SdkAttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord, AttributeValue as StreamAttributeValue } from 'aws-lambda';
import { type Customer, customerSchema } from '../shared/domain/customer';
import { type CustomerEvent, type ProfileChange, toCustomerEvent } from '../shared/domain/events';
import { PROFILE_SK } from '../shared/domain/keys';

type StreamImage = Record<string, StreamAttributeValue>;

/** What one stream record asks of the publisher. Reasons never carry attribute values (PII). */
export type StreamRecordReading =
  | { readonly outcome: 'publish'; readonly event: CustomerEvent }
  | { readonly outcome: 'skip'; readonly reason: 'not a profile item' | 'bookkeeping-only change' }
  | { readonly outcome: 'malformed'; readonly reason: string };

class MalformedRecord extends Error {}

/**
 * The Lambda event types binary attributes (B, BS) as base64 strings where the SDK says
 * Uint8Array; every other member has the same shape. A profile item has no binary attribute,
 * and `unmarshall` passes a B value through untouched, so reading the image as the SDK type is
 * sound for these records.
 */
const toSdkImage = (image: StreamImage): Record<string, SdkAttributeValue> =>
  image as Record<string, SdkAttributeValue>;

const parseImage = (image: StreamImage | undefined, name: string): Customer => {
  if (image === undefined) throw new MalformedRecord(`${name} is missing`);
  const parsed = customerSchema.safeParse(unmarshall(toSdkImage(image)));
  if (!parsed.success) {
    // Paths and codes only: an issue's message is safe today, but the input never is.
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.code}`);
    throw new MalformedRecord(`${name} is not a customer (${issues.join('; ')})`);
  }
  return parsed.data;
};

const toProfileChange = (record: DynamoDBRecord): ProfileChange => {
  const images = record.dynamodb;
  switch (record.eventName) {
    case 'INSERT':
      return { kind: 'INSERT', newImage: parseImage(images?.NewImage, 'NewImage') };
    case 'MODIFY':
      return {
        kind: 'MODIFY',
        oldImage: parseImage(images?.OldImage, 'OldImage'),
        newImage: parseImage(images?.NewImage, 'NewImage'),
      };
    case 'REMOVE':
      return { kind: 'REMOVE', oldImage: parseImage(images?.OldImage, 'OldImage') };
    default:
      throw new MalformedRecord(`unknown eventName ${String(record.eventName)}`);
  }
};

const occurredAtOf = (record: DynamoDBRecord): Date => {
  const seconds = record.dynamodb?.ApproximateCreationDateTime;
  return seconds === undefined ? new Date() : new Date(seconds * 1000);
};

export const readStreamRecord = (record: DynamoDBRecord): StreamRecordReading => {
  if (record.dynamodb?.Keys?.sk?.S !== PROFILE_SK) {
    return { outcome: 'skip', reason: 'not a profile item' };
  }
  try {
    // The event id must survive retries of this record, and only eventID does.
    if (!record.eventID) throw new MalformedRecord('eventID is missing');
    const event = toCustomerEvent(toProfileChange(record), {
      eventId: record.eventID,
      occurredAt: occurredAtOf(record),
    });
    return event === undefined
      ? { outcome: 'skip', reason: 'bookkeeping-only change' }
      : { outcome: 'publish', event };
  } catch (error) {
    if (error instanceof MalformedRecord) return { outcome: 'malformed', reason: error.message };
    // e.g. unmarshall rejecting a number beyond 2^53: its message may quote the value, so
    // only the error's name is kept.
    const name = error instanceof Error ? error.name : typeof error;
    return { outcome: 'malformed', reason: `unreadable record (${name})` };
  }
};
