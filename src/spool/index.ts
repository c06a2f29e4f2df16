/**
 * Spool: the durable landing place of every accepted message (see journal.ts),
 * plus the free-space guard that turns a filling disk into 452 4.3.1 at MAIL
 * FROM instead of a failed write after the client has sent 25 MB.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { CodedError } from '../errors.ts';
import {
  Journal,
  syncDir,
  type Envelope,
  type SpoolIo,
  type SpoolRecord,
  type SpoolCursor,
  type SpoolRef,
} from './journal.ts';

export {
  Journal,
  newSpoolId,
  recordEnd,
  syncDir,
  SEGMENT_MAX_BYTES,
  type DamagedSpan,
  type ScanEntry,
  type ScannedRecord,
  type Envelope,
  type SpoolCursor,
  type SpoolIo,
  type SpoolRecord,
  type SpoolRef,
} from './journal.ts';

/** statfs is cheap but not free; under load one reading serves many MAIL FROMs. */
const FREE_SPACE_CACHE_MS = 250;

export interface SpoolOptions {
  dataDir: string;
  minFreeBytes: number;
  io?: SpoolIo;
  clock?: () => number;
  onCommit?: (records: SpoolRecord[], bodies: Buffer[][]) => void;
  segmentMaxBytes?: number;
  /** Free bytes of the spool's file system; injectable for tests. */
  freeBytes?: (dir: string) => Promise<number>;
}

async function statfsFree(dir: string): Promise<number> {
  const s = await fsp.statfs(dir);
  return s.bavail * s.bsize;
}

/** Where one message's raw bytes live (see `rawLocation` in store/). */
export interface RawLocation {
  id: string;
  ref: SpoolRef;
  /** Set once retention moved the bytes out of a purged journal segment. */
  path: string | null;
  purgedAt: number | null;
}

export class Spool {
  readonly journal: Journal;
  readonly dir: string;
  /** Raw messages kept past their segment's purge (failed, needs-review, quarantined mail). */
  readonly keptDir: string;
  private readonly minFreeBytes: number;
  private readonly freeBytesOf: (dir: string) => Promise<number>;
  private free: { bytes: number; at: number } | null = null;

  constructor(opts: SpoolOptions) {
    this.dir = path.join(opts.dataDir, 'spool');
    this.keptDir = path.join(this.dir, 'kept');
    this.minFreeBytes = opts.minFreeBytes;
    this.freeBytesOf = opts.freeBytes ?? statfsFree;
    this.journal = new Journal({
      dir: this.dir,
      io: opts.io,
      clock: opts.clock,
      onCommit: opts.onCommit,
      segmentMaxBytes: opts.segmentMaxBytes,
    });
  }

  /** Opens the journal (cutting a torn tail) and removes temp files a crash left in `kept/`. */
  /** Opens the journal (see {@link Journal.open}; `recorded` is the database's cursor). */
  async open(opts: { recorded?: SpoolCursor } = {}): Promise<void> {
    await this.journal.open(opts);
    const leftovers = (await fsp.readdir(this.keptDir).catch(() => [] as string[])).filter((f) => f.endsWith('.tmp'));
    for (const f of leftovers) await fsp.rm(path.join(this.keptDir, f), { force: true });
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

  /** The raw message bytes, wherever retention has put them. Throws SPOOL_MISSING once purged. */
  async readRaw(loc: RawLocation): Promise<Buffer> {
    if (loc.purgedAt !== null)
      throw new CodedError(
        'SPOOL_MISSING',
        `the raw bytes of ${loc.id} were purged by retention on ${new Date(loc.purgedAt).toISOString()}`,
      );
    if (loc.path !== null) {
      try {
        return await fsp.readFile(loc.path);
      } catch (err) {
        throw new CodedError('SPOOL_MISSING', `kept file ${loc.path} is missing`, { cause: err });
      }
    }
    return this.journal.read(loc.ref, loc.id);
  }

  /** Copies a message out of its journal segment into `kept/<id>.eml`, durably; returns the path. */
  async keep(loc: RawLocation): Promise<string> {
    const raw = await this.journal.read(loc.ref, loc.id);
    await fsp.mkdir(this.keptDir, { recursive: true });
    const file = path.join(this.keptDir, `${loc.id}.eml`);
    const tmp = `${file}.tmp`;
    const fh = await fsp.open(tmp, 'w', 0o640);
    try {
      await fh.writeFile(raw);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, file);
    await syncDir(this.keptDir);
    return file;
  }

  append(
    envelope: Envelope,
    body: Buffer[],
    size: number,
    at?: { id: string; receivedAt: number },
  ): Promise<SpoolRecord> {
    return this.journal.append(envelope, body, size, at);
  }

  close(): Promise<void> {
    return this.journal.close();
  }
}
