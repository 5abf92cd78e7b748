import type { CustomerEvent } from '../shared/domain/events';

/** What the archive holds for one customer. */
export type StoredArchive =
  | { readonly state: 'present'; readonly version: number; readonly etag: string }
  /** The latest version is a delete marker: ids are never reused, so this is final. */
  | { readonly state: 'deleted' }
  | { readonly state: 'absent' };

export type ArchivePlan =
  /** `replacing` is the ETag the write expects to replace; none means the key must be free. */
  | { readonly action: 'write'; readonly replacing?: string }
  | { readonly action: 'delete' }
  | { readonly action: 'skip'; readonly reason: string };

export const archiveKey = (customerId: string): string => `customers/${customerId}.json`;

/**
 * Events arrive late and twice: the archive moves only forward. A deletion carries
 * the version it removed, so it applies on top of that same version.
 */
export const planArchive = (event: CustomerEvent, stored: StoredArchive): ArchivePlan => {
  if (stored.state === 'deleted') return { action: 'skip', reason: 'customer already deleted' };
  const storedVersion = stored.state === 'present' ? stored.version : 0;
  if (event.type === 'CustomerDeleted') {
    return storedVersion > event.version
      ? { action: 'skip', reason: 'a newer version is stored' }
      : { action: 'delete' };
  }
  if (storedVersion >= event.version) {
    return { action: 'skip', reason: 'the same or a newer version is stored' };
  }
  return stored.state === 'present'
    ? { action: 'write', replacing: stored.etag }
    : { action: 'write' };
};
