/**
 * Spool: the durable landing place of every accepted message (see journal.ts),
 * plus the free-space guard that turns a filling disk into 452 4.3.1 at MAIL
 * FROM instead of a failed write after the client has sent 25 MB.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Journal, type Envelope, type SpoolIo, type SpoolRecord } from './journal.ts';

export { Journal, newSpoolId, syncDir, type Envelope, type SpoolCursor, type SpoolIo, type SpoolRecord, type SpoolRef } from './journal.ts';

/** statfs is cheap but not free; under load one reading serves many MAIL FROMs. */
const FREE_SPACE_CACHE_MS = 250;

export interface SpoolOptions {
  dataDir: string;
  minFreeBytes: number;
  io?: SpoolIo;
  clock?: () => number;
  onCommit?: (records: SpoolRecord[]) => void;
  /** Free bytes of the spool's file system; injectable for tests. */
  freeBytes?: (dir: string) => Promise<number>;
}

async function statfsFree(dir: string): Promise<number> {
  const s = await fsp.statfs(dir);
  return s.bavail * s.bsize;
}

export class Spool {
  readonly journal: Journal;
  readonly dir: string;
  private readonly minFreeBytes: number;
  private readonly freeBytesOf: (dir: string) => Promise<number>;
  private free: { bytes: number; at: number } | null = null;

  constructor(opts: SpoolOptions) {
    this.dir = path.join(opts.dataDir, 'spool');
    this.minFreeBytes = opts.minFreeBytes;
    this.freeBytesOf = opts.freeBytes ?? statfsFree;
    this.journal = new Journal({ dir: this.dir, io: opts.io, clock: opts.clock, onCommit: opts.onCommit });
  }

  async open(): Promise<void> {
    await this.journal.open();
  }

  /** Free bytes on the spool's file system (cached briefly). */
  async freeBytes(): Promise<number> {
    const now = Date.now();
    if (!this.free || now - this.free.at > FREE_SPACE_CACHE_MS) {
      this.free = { bytes: await this.freeBytesOf(this.dir), at: now };
    }
    return this.free.bytes;
  }

  /** True when there is room for at least the configured reserve. */
  async hasSpace(): Promise<boolean> {
    return (await this.freeBytes()) >= this.minFreeBytes;
  }

  /** Forget the cached free-space reading (after a write failed for space). */
  invalidateFreeSpace(): void {
    this.free = null;
  }

  append(envelope: Envelope, body: Buffer[], size: number): Promise<SpoolRecord> {
    return this.journal.append(envelope, body, size);
  }

  close(): Promise<void> {
    return this.journal.close();
  }
}
