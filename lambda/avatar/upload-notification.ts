import * as z from 'zod/mini';
import { parseJsonBody } from '../shared/adapters/sqs-batch';
import { AVATAR_UPLOADS_PREFIX } from '../shared/contract';
import { customerIdSchema } from '../shared/domain/customer';

/**
 * What S3 sends the uploads queue: a notification with the records of created objects, or,
 * once when the configuration is put, `s3:TestEvent` (skipped). Only the fields the avatar
 * function reads are parsed; S3 adds more.
 */

/** A sequencer's width once padded: S3's are 16 to 18 hex digits today. */
const SEQUENCER_WIDTH = 32;

/**
 * S3's `sequencer` as a string that sorts like the event order: S3 says to compare two of one
 * key by left-padding the shorter with zeros, then comparing as strings. Padded to one fixed
 * width, every stored sequencer compares correctly with `<`, in code and in a DynamoDB condition.
 */
export const sequencerOrder = (sequencer: string): string =>
  sequencer.toUpperCase().padStart(SEQUENCER_WIDTH, '0');

const s3RecordSchema = z.object({
  eventName: z.string(),
  s3: z.object({
    bucket: z.object({ name: z.string() }),
    object: z.object({
      key: z.string(),
      size: z.number().check(z.nonnegative()),
      versionId: z.string().check(z.minLength(1)),
      sequencer: z.string().check(z.regex(new RegExp(`^[0-9A-Fa-f]{1,${SEQUENCER_WIDTH}}$`))),
    }),
  }),
});

const notificationSchema = z.union([
  z.object({ Event: z.literal('s3:TestEvent') }),
  z.object({ Records: z.array(s3RecordSchema) }),
]);

/** One created object under the uploads prefix, as the function acts on it. */
export interface Upload {
  readonly bucket: string;
  /** Decoded: S3 sends the key URL-encoded, with `+` for a space. */
  readonly key: string;
  readonly versionId: string;
  readonly size: number;
  /** `sequencerOrder` of the event's sequencer. */
  readonly sequencer: string;
  /** The customer the key names, or `undefined` for a key that is not `avatar-uploads/<id>`. */
  readonly customerId: string | undefined;
}

/** A message on the uploads queue that is not S3's notification: it fails, and ends in the DLQ. */
export class MalformedNotification extends Error {
  constructor(messageId: string, reason: string) {
    super(`message ${messageId} is not an S3 notification: ${reason}`);
    this.name = 'MalformedNotification';
  }
}

const decodeKey = (messageId: string, key: string): string => {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    throw new MalformedNotification(messageId, 'an object key is not URL-encoded');
  }
};

const customerOf = (key: string): string | undefined => {
  if (!key.startsWith(AVATAR_UPLOADS_PREFIX)) return undefined;
  const id = customerIdSchema.safeParse(key.slice(AVATAR_UPLOADS_PREFIX.length));
  return id.success ? id.data.toLowerCase() : undefined;
};

/**
 * The created objects a message reports: none for S3's test event, and none for an event that
 * creates nothing (the notification is configured for `ObjectCreated` only).
 * @throws MalformedNotification naming what is wrong, never the body's content.
 */
export const parseUploadNotification = (messageId: string, body: string): readonly Upload[] => {
  const notification = parseJsonBody(
    body,
    notificationSchema,
    (reason) => new MalformedNotification(messageId, reason),
  );
  if (!('Records' in notification)) return [];
  return notification.Records.filter((record) => record.eventName.startsWith('ObjectCreated:')).map(
    ({ s3 }) => {
      const key = decodeKey(messageId, s3.object.key);
      return {
        bucket: s3.bucket.name,
        key,
        versionId: s3.object.versionId,
        size: s3.object.size,
        sequencer: sequencerOrder(s3.object.sequencer),
        customerId: customerOf(key),
      };
    },
  );
};
