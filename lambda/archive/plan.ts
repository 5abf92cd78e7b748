import type { CustomerEvent } from '../shared/domain/events';

/** What the archive holds for one customer. */
export type StoredArchive =
  | { readonly state: 'present'; readonly version: number; readonly etag: string }
  /** The latest version is a tombstone (or, before tombstones, a delete marker): final, as ids are never reused. */
  | { readonly state: 'deleted' }
  | { readonly state: 'absent' };

/** `replacing` is the ETag a write expects to replace; none means the key must be free. */
export type ArchivePlan =
  | { readonly action: 'write'; readonly replacing?: string }
  | { readonly action: 'tombstone'; readonly replacing?: string }
  | { readonly action: 'skip'; readonly reason: string };

/**
 * Events arrive late and twice: the archive moves only forward, and a tombstone ends
 * it. A deletion carries the version it removed, so it applies on top of that same
 * version, or of nothing at all when it arrives before the customer's other events.
 */
export const planArchive = (event: CustomerEvent, stored: StoredArchive): ArchivePlan => {
  if (stored.state === 'deleted') return { action: 'skip', reason: 'customer already deleted' };
  const storedVersion = stored.state === 'present' ? stored.version : 0;
  const replacing = stored.state === 'present' ? { replacing: stored.etag } : {};
  if (event.type === 'CustomerDeleted') {
    return storedVersion > event.version
      ? { action: 'skip', reason: 'a newer version is stored' }
      : { action: 'tombstone', ...replacing };
  }
  if (storedVersion >= event.version) {
    return { action: 'skip', reason: 'the same or a newer version is stored' };
  }
  return { action: 'write', ...replacing };
};
