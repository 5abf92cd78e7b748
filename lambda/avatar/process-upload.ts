import type { CustomerRepository } from '../shared/adapters/customer-repository';
import { AVATAR_HEAD_BYTES, type AvatarLimits, inspectAvatar } from '../shared/domain/avatar-image';
import type { Avatar } from '../shared/domain/customer';
import type { AvatarStore } from './avatar-store';
import type { Upload } from './upload-notification';

/** What became of one upload: each is one log line, and all but the last delete the upload. */
export type UploadOutcome =
  | { readonly outcome: 'published'; readonly avatar: Avatar }
  | { readonly outcome: 'rejected'; readonly reason: string }
  | { readonly outcome: 'customer gone' }
  | { readonly outcome: 'superseded'; readonly by: 'a newer upload' | 'this upload, already' }
  | { readonly outcome: 'already processed' };

/** The decoder, loaded on first use: the API route and the erase never pay for it. */
export type Resize = (bytes: Uint8Array) => Promise<{
  readonly bytes: Uint8Array;
  readonly contentType: string;
  readonly width: number;
  readonly height: number;
}>;

export interface UploadProcessing {
  readonly customers: CustomerRepository;
  readonly store: AvatarStore;
  readonly resize: Resize;
  readonly limits: AvatarLimits;
  readonly now: () => Date;
}

/**
 * The decoder trapped (Rust's panic in WebAssembly): the image passed inspection but its data
 * is corrupt. The upload is rejected, and the module that trapped must not decode again.
 */
export class DecoderTrapped extends Error {
  constructor(cause: unknown) {
    super('the image decoder trapped', { cause });
    this.name = 'DecoderTrapped';
  }
}

/** A WebAssembly trap (`WebAssembly.RuntimeError`, which Node's types do not declare). */
const isTrap = (error: unknown): boolean => error instanceof Error && error.name === 'RuntimeError';

/** Whether a recorded avatar came from this upload or a later one. */
const coversUpload = (avatar: Avatar | undefined, upload: Upload): boolean =>
  avatar !== undefined && avatar.sequencer >= upload.sequencer;

/**
 * One upload, start to end. The upload's version is deleted once it is dealt with, whatever
 * the outcome (published, rejected, superseded, customer gone), and never before: a failure
 * anywhere earlier leaves it for the redelivery, which starts over from what is recorded.
 * `onTrap` runs after a trapped decode has been dealt with, like any rejection.
 */
export const processUpload = async (
  upload: Upload,
  { customers, store, resize, limits, now }: UploadProcessing,
  onTrap: (error: DecoderTrapped) => void,
): Promise<UploadOutcome> => {
  const done = async (outcome: UploadOutcome): Promise<UploadOutcome> => {
    await store.deleteVersion(upload.key, upload.versionId);
    return outcome;
  };
  const { customerId } = upload;
  if (customerId === undefined) {
    return done({ outcome: 'rejected', reason: 'its key names no customer' });
  }

  // Consistent: the upload may follow the customer's creation, or its deletion, closely.
  const customer = await customers.findById(customerId, { consistent: true });
  if (customer === undefined) return done({ outcome: 'customer gone' });
  if (coversUpload(customer.avatar, upload)) {
    const by =
      customer.avatar?.sequencer === upload.sequencer ? 'this upload, already' : 'a newer upload';
    return done({ outcome: 'superseded', by });
  }

  const head = await store.readHead(upload.key, upload.versionId, AVATAR_HEAD_BYTES);
  if (head === undefined) return { outcome: 'already processed' };
  const inspection = inspectAvatar(head.head, head.contentType, head.size, limits);
  if (!inspection.accepted) return done({ outcome: 'rejected', reason: inspection.reason });

  const whole =
    head.size <= head.head.length ? head.head : await store.readWhole(upload.key, upload.versionId);
  if (whole === undefined) return { outcome: 'already processed' };
  let resized: Awaited<ReturnType<Resize>>;
  try {
    resized = await resize(whole);
  } catch (error) {
    if (!isTrap(error)) throw error;
    const outcome = await done({ outcome: 'rejected', reason: 'its image data does not decode' });
    onTrap(new DecoderTrapped(error));
    return outcome;
  }

  const published = await store.publish(customerId, resized);
  const avatar: Avatar = {
    ...published,
    contentType: resized.contentType,
    width: resized.width,
    height: resized.height,
    bytes: resized.bytes.length,
    updatedAt: now().toISOString(),
    sequencer: upload.sequencer,
  };
  let recording: Awaited<ReturnType<CustomerRepository['recordAvatar']>>;
  try {
    recording = await customers.recordAvatar(customerId, avatar);
  } catch (error) {
    // Not recorded: the redelivery publishes again, so this version would be nobody's.
    await store.deleteVersion(published.key, published.versionId).catch(() => undefined);
    throw error;
  }
  if (recording.recorded) return done({ outcome: 'published', avatar });

  // Check after write: the customer was deleted, or a later upload recorded, while this one
  // worked. Its own write goes; the erase (or the later avatar) stands.
  await store.deleteVersion(published.key, published.versionId);
  if (recording.current === undefined) return done({ outcome: 'customer gone' });
  const by =
    recording.current.avatar?.sequencer === upload.sequencer
      ? 'this upload, already'
      : 'a newer upload';
  return done({ outcome: 'superseded', by });
};
