import * as fs from 'node:fs';
import * as path from 'node:path';

/** A structured (Powertools JSON) log line of a handler. */
export interface LogEntry {
  readonly message?: string;
  readonly timestamp?: string;
  readonly customerId?: string;
  /** The customer's version the event carried (the archive and marketing log it). */
  readonly version?: number;
  readonly type?: string;
  readonly action?: string;
  readonly outcome?: string;
}

/** The handler's JSON lines; Node's own warnings and anything else are skipped. */
export const parseLogLines = (text: string): LogEntry[] =>
  text.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      return [JSON.parse(line) as LogEntry];
    } catch {
      return [];
    }
  });

/** Bytes of the handler's JSON lines, newline included: what CloudWatch would ingest of them. */
export const structuredLogBytes = (text: string): number =>
  text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 0);

/** When each customer's creation was handled, by the first log line that says so. */
export const completionTimes = (
  entries: readonly LogEntry[],
  done: (entry: LogEntry) => boolean,
): Map<string, number> => {
  const times = new Map<string, number>();
  for (const entry of entries) {
    if (!done(entry) || entry.customerId === undefined || entry.timestamp === undefined) continue;
    const at = Date.parse(entry.timestamp);
    const previous = times.get(entry.customerId);
    if (previous === undefined || at < previous) times.set(entry.customerId, at);
  }
  return times;
};

export const archivedCreation = (e: LogEntry) =>
  e.message === 'archive updated' && e.type === 'CustomerCreated' && e.action === 'write';
export const grantedCreation = (e: LogEntry) =>
  e.message === 'consent change handled' && e.type === 'CustomerCreated' && e.outcome === 'granted';

/** Reads what each function's log gained since the last read. */
export class LogReader {
  private readonly offsets = new Map<string, number>();
  constructor(private readonly dir: string) {}

  /** New text of the log of `logicalId` since the previous call. */
  read(logicalId: string): string {
    const file = path.join(this.dir, `${logicalId}.log`);
    if (!fs.existsSync(file)) return '';
    const from = this.offsets.get(logicalId) ?? 0;
    const buffer = fs.readFileSync(file);
    this.offsets.set(logicalId, buffer.length);
    return buffer.subarray(from).toString('utf8');
  }
}
