/**
 * The durable spool: an append-only journal of segment files with group commit.
 *
 * Each accepted message becomes one record (envelope header + raw bytes + CRC).
 * Records of all concurrent SMTP sessions that finish DATA while a flush is in
 * progress are written together with one `writev` and made durable with one
 * `fdatasync`; only then is every one of them acknowledged (250). One sync per
 * batch instead of one create+fsync+rename+dir-fsync per message is what lets
 * durable acceptance keep up with the SMTP front end (see docs/architecture.md).
 *
 * A failed write or sync truncates the segment back to where the batch began,
 * so no half-written record remains and nobody gets a 250 for it. A torn tail
 * left by a crash (an incomplete *final* record) was never acknowledged and is
 * cut off when the journal is opened. Damage anywhere else — a flipped byte in
 * a frame, a header or a body with records after it — is acknowledged mail: it
 * is never cut. Scans step over it to the next valid record and report it as a
 * damaged span, and every read checks the record's id and checksum, so a read
 * never returns another mail's bytes.
 */
import fsp, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { CodedError } from '../errors.ts';

/** Record framing: magic, header length, body length, CRC-32 of header+body. */
const MAGIC = 0x3161_744f; // 'Ota1' little-endian
const FRAME_BYTES = 16;
/** A segment is closed for appends once it grows past this size; smaller segments purge sooner. */
export const SEGMENT_MAX_BYTES = 64 * 1024 * 1024;
/** Header JSON is small (envelope); anything larger is corruption, not data. */
const MAX_HEADER_BYTES = 1024 * 1024;
const SEGMENT_RE = /^(\d{12})\.seg$/;
const MAGIC_BYTES = Buffer.from([0x4f, 0x74, 0x61, 0x31]);
/** How much a resynchronising scan reads at a time while looking for the next frame after damage. */
const RESYNC_CHUNK_BYTES = 1024 * 1024;
/** How much of a damaged span is searched for the spool ids of the records it covers. */
const SALVAGE_BYTES = 64 * 1024 * 1024;
/** How far after a header's start its Received line can be (the envelope of 50 recipients fits). */
const MAX_ENVELOPE_REACH = 8 * 1024;
const SPOOL_ID = /^[0-9a-z]{9}-[0-9a-f]{10}$/;
/** Where a record header starts, with its id and receive time (the order `append` writes them in). */
const HEADER_START = /\{"id":"([0-9a-z]{9}-[0-9a-f]{10})","receivedAt":(\d+)/g;
/** The id in a header's `Received:` line (JSON-escaped: `\\tid <id>`). */
const SPOOL_ID_IN_RECEIVED = /\\tid ([0-9a-z]{9}-[0-9a-f]{10})/g;

/** Where a record lives: segment number, byte offset of the record, lengths. */
export interface SpoolRef {
  segment: number;
  offset: number;
  headerLength: number;
  bodyLength: number;
}

/** The SMTP envelope and session facts kept with every message. */
export interface Envelope {
  mailFrom: string | null;
  rcptTo: string[];
  clientIp: string;
  helo: string | null;
  tls: { protocol: string; cipher: string } | null;
  /** Store the recipient routed to; null when quarantined. */
  store: string | null;
  quarantined: boolean;
  /** Why it is quarantined (`unknown-recipient`, `revoked-store`, `postmaster`, …); absent in records written before it existed. */
  quarantineReason?: string | null;
  sessionId: string;
  /** The `Received:` trace header (RFC 5321 §4.4) rendered when the message was accepted; absent in older records. */
  received?: string;
}

export interface SpoolRecord {
  id: string;
  receivedAt: number;
  envelope: Envelope;
  size: number;
  ref: SpoolRef;
}

/** A record as a scan finds it: `end` is the offset just after it; `crcOk` only when the scan verified it. */
export interface ScannedRecord extends SpoolRecord {
  kind: 'record';
  end: number;
  crcOk: boolean;
}

/**
 * Bytes between two valid records (or from one to the end of the segment) that
 * do not frame as a record: damage to acknowledged mail, kept on disk. `id` is
 * the spool id found in the damaged bytes when one can be read, else null.
 * `otherIds` are the further ids the damaged bytes name: the other reading of
 * the first id when the damage hit one of its two copies (the `id` field and
 * the `Received:` line) and nothing tells which, and the ids of later records
 * the damage reached — so every mail stays findable under the id its sender
 * was given.
 */
export interface DamagedSpan {
  kind: 'damage';
  segment: number;
  offset: number;
  end: number;
  id: string | null;
  otherIds?: string[];
}

export type ScanEntry = ScannedRecord | DamagedSpan;

/** Position just after the last record a consumer has taken; resumes recovery. */
export interface SpoolCursor {
  segment: number;
  offset: number;
}

/**
 * The file-system operations the journal uses — the seam where tests inject
 * faults (ENOSPC, EIO) without mocking anything above it.
 */
export interface SpoolIo {
  open(file: string, flags: string): Promise<FileHandle>;
}

const realIo: SpoolIo = { open: (file, flags) => fsp.open(file, flags, 0o640) };

interface Pending {
  id: string;
  receivedAt: number;
  envelope: Envelope;
  header: Buffer;
  body: Buffer[];
  size: number;
  resolve: (rec: SpoolRecord) => void;
  reject: (err: Error) => void;
}

export interface JournalOptions {
  dir: string;
  io?: SpoolIo;
  clock?: () => number;
  segmentMaxBytes?: number;
  /**
   * Called after every durable batch, in commit order, with each record's
   * body chunks (so fresh mail can be processed without reading it back).
   */
  onCommit?: (records: SpoolRecord[], bodies: Buffer[][]) => void;
}

/** The cursor just after a record. */
export function recordEnd(ref: SpoolRef): SpoolCursor {
  return { segment: ref.segment, offset: ref.offset + FRAME_BYTES + ref.headerLength + ref.bodyLength };
}

/** Time-sortable, collision-free spool id: base36 milliseconds + 10 random hex digits. */
export function newSpoolId(now: number): string {
  return `${now.toString(36).padStart(9, '0')}-${crypto.randomBytes(5).toString('hex')}`;
}

function segmentName(n: number): string {
  return `${String(n).padStart(12, '0')}.seg`;
}

function ioError(err: unknown): CodedError {
  const code = (err as NodeJS.ErrnoException)?.code;
  return new CodedError(
    code === 'ENOSPC' || code === 'EDQUOT' ? 'SPOOL_NO_SPACE' : 'SPOOL_IO',
    `spool write failed: ${(err as Error).message}`,
    { cause: err },
  );
}

export class Journal {
  readonly dir: string;
  private readonly io: SpoolIo;
  private readonly clock: () => number;
  private readonly segmentMaxBytes: number;
  private readonly onCommit: ((records: SpoolRecord[], bodies: Buffer[][]) => void) | undefined;
  private fh: FileHandle | null = null;
  private segment = 0;
  private offset = 0;
  private queue: Pending[] = [];
  private flushing: Promise<void> | null = null;
  private closed = false;
  private readHandles = new Map<number, Promise<FileHandle>>();
  /** Durable batches so far in this process: lets a consumer tell whether anything was committed while it scanned. */
  commitSeq = 0;
  /** Figures for metrics: batches flushed and the last batch's size and duration. */
  readonly stats = { batches: 0, records: 0, lastBatchSize: 0, lastFlushMs: 0 };
  flushObserver: ((seconds: number, records: number) => void) | null = null;

  constructor(opts: JournalOptions) {
    this.dir = opts.dir;
    this.io = opts.io ?? realIo;
    this.clock = opts.clock ?? Date.now;
    this.segmentMaxBytes = opts.segmentMaxBytes ?? SEGMENT_MAX_BYTES;
    this.onCommit = opts.onCommit;
  }

  /**
   * Opens the journal: creates the directory, cuts a torn tail (an incomplete
   * final record: never acknowledged, and never before `recorded`, the
   * database's cursor), makes the rest of the last segment durable, and opens
   * it for appends.
   * Damaged records with valid ones after them, and a complete final record
   * whose checksum fails, are acknowledged mail: kept, and reported by scans.
   */
  async open(opts: { recorded?: SpoolCursor } = {}): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true });
    const segments = await this.segments();
    const last = segments.at(-1);
    if (last === undefined) {
      await this.startSegment(1);
      return;
    }
    const file = path.join(this.dir, segmentName(last));
    const fh = await this.io.open(file, 'r+');
    const { size } = await fh.stat();
    // Bytes before the database's cursor were whole records when their rows were written:
    // damaged since, never a torn tail, and never to be written over.
    const recorded = opts.recorded?.segment === last ? Math.min(opts.recorded.offset, size) : 0;
    const valid = Math.max(await this.validLength(last, size), recorded);
    if (valid < size) await fh.truncate(valid);
    // Always sync what is adopted: a process killed between a batch's write and its sync leaves
    // whole records in the page cache only. Recovery takes them in (their rows, their events),
    // so a power cut now must not take them back — nor leave the database's cursor past the
    // end of the segment, where new mail would be written and never handed over.
    await syncAdopted(fh, file);
    this.fh = fh;
    this.segment = last;
    this.offset = valid;
    if (this.offset >= this.segmentMaxBytes) await this.rotate();
  }

  /**
   * Read-only view for tools running beside the server (purge, replay): learns
   * which segment is being written without opening it or touching its tail.
   */
  async attach(): Promise<void> {
    this.segment = (await this.segments()).at(-1) ?? 1;
    this.closed = true;
  }

  /** Segment numbers present, ascending. */
  async segments(): Promise<number[]> {
    const names = await fsp.readdir(this.dir).catch(() => [] as string[]);
    return names
      .map((n) => SEGMENT_RE.exec(n)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  }

  /** The segment currently written to (records before it are immutable). */
  get currentSegment(): number {
    return this.segment;
  }

  /**
   * Appends one message and resolves once it is durable on disk — the caller may
   * answer 250 then, and not before. Rejects with SPOOL_NO_SPACE / SPOOL_IO /
   * SPOOL_CLOSED (all transient: answer 4xx).
   */
  append(
    envelope: Envelope,
    body: Buffer[],
    size: number,
    at?: { id: string; receivedAt: number },
  ): Promise<SpoolRecord> {
    if (this.closed) return Promise.reject(new CodedError('SPOOL_CLOSED'));
    // The caller may have chosen the id already (the SMTP front end names it in the Received header).
    const receivedAt = at?.receivedAt ?? this.clock();
    const id = at?.id ?? newSpoolId(receivedAt);
    const header = Buffer.from(JSON.stringify({ id, receivedAt, envelope }), 'utf8');
    return new Promise<SpoolRecord>((resolve, reject) => {
      this.queue.push({ id, receivedAt, envelope, header, body, size, resolve, reject });
      if (!this.flushing) this.flushing = this.flushLoop();
    });
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        await this.flushBatch(batch);
      }
    } finally {
      this.flushing = null;
    }
  }

  private async flushBatch(batch: Pending[]): Promise<void> {
    const started = performance.now();
    const fh = this.fh!;
    const start = this.offset;
    const buffers: Buffer[] = [];
    const records: SpoolRecord[] = [];
    let pos = start;
    for (const p of batch) {
      const frame = Buffer.allocUnsafe(FRAME_BYTES);
      let crc = zlib.crc32(p.header);
      for (const chunk of p.body) crc = zlib.crc32(chunk, crc);
      frame.writeUInt32LE(MAGIC, 0);
      frame.writeUInt32LE(p.header.length, 4);
      frame.writeUInt32LE(p.size, 8);
      frame.writeUInt32LE(crc >>> 0, 12);
      buffers.push(frame, p.header, ...p.body);
      records.push({
        id: p.id,
        receivedAt: p.receivedAt,
        envelope: p.envelope,
        size: p.size,
        ref: { segment: this.segment, offset: pos, headerLength: p.header.length, bodyLength: p.size },
      });
      pos += FRAME_BYTES + p.header.length + p.size;
    }
    try {
      await writeAll(fh, buffers, start, pos - start);
      await fh.datasync();
    } catch (err) {
      const failure = ioError(err);
      // Cut the partial batch so a later append cannot follow garbage, and so
      // recovery never resurrects a message whose sender was told to retry.
      try {
        await fh.truncate(start);
        await fh.datasync();
      } catch {
        // The segment may be unusable: continue in a fresh one.
        await this.rotate().catch(() => undefined);
      }
      for (const p of batch) p.reject(failure);
      return;
    }
    this.offset = pos;
    this.commitSeq += 1;
    this.stats.batches += 1;
    this.stats.records += batch.length;
    this.stats.lastBatchSize = batch.length;
    this.stats.lastFlushMs = performance.now() - started;
    this.flushObserver?.(this.stats.lastFlushMs / 1000, batch.length);
    this.onCommit?.(
      records,
      batch.map((p) => p.body),
    );
    for (let i = 0; i < batch.length; i++) batch[i]!.resolve(records[i]!);
    if (this.offset >= this.segmentMaxBytes) await this.rotate().catch(() => undefined);
  }

  private async startSegment(n: number): Promise<void> {
    const fh = await this.io.open(path.join(this.dir, segmentName(n)), 'wx+');
    await fh.datasync();
    await syncDir(this.dir);
    this.fh = fh;
    this.segment = n;
    this.offset = 0;
  }

  private async rotate(): Promise<void> {
    const old = this.fh;
    await this.startSegment(this.segment + 1);
    await old?.close().catch(() => undefined);
  }

  /**
   * Where the torn tail of the last segment starts. Only an incomplete final
   * region is a tail a crash tore (nothing in it was acknowledged); a damaged
   * span followed by valid records, or a final region that is one whole record
   * as framed (or with one length field repaired and its checksum holding), is
   * acknowledged mail and stays.
   */
  private async validLength(segment: number, size: number): Promise<number> {
    let last: ScanEntry | null = null;
    for await (const e of this.scanSegment(segment, 0, { verify: false })) last = e;
    if (last === null || last.kind === 'record' || last.end < size) return size;
    const fh = await fsp.open(path.join(this.dir, segmentName(segment)), 'r');
    try {
      return (await wholeRecordAt(new SegmentReader(fh), last.offset, size)) ? size : last.offset;
    } finally {
      await fh.close();
    }
  }

  /**
   * Reads records and damaged spans from a cursor onwards, in order (recovery
   * of messages spooled but not yet taken by the consumer, rebuilds, the
   * reconciler). Damage never stops a scan: it resumes at the next valid record.
   */
  async *scan(from: SpoolCursor, opts: { verify?: boolean; onlySegment?: boolean } = {}): AsyncGenerator<ScanEntry> {
    for (const seg of await this.segments()) {
      if (seg < from.segment || (opts.onlySegment && seg !== from.segment)) continue;
      yield* this.scanSegment(seg, seg === from.segment ? from.offset : 0, { verify: opts.verify ?? false });
    }
  }

  private async *scanSegment(
    segment: number,
    fromOffset: number,
    opts: { verify: boolean },
  ): AsyncGenerator<ScanEntry> {
    const fh = await fsp.open(path.join(this.dir, segmentName(segment)), 'r');
    try {
      const { size } = await fh.stat();
      const r = new SegmentReader(fh);
      let pos = fromOffset;
      while (pos < size) {
        let rec = await recordAt(r, segment, pos, size, opts.verify);
        // A damaged length field can frame a record over its neighbour: when no
        // frame starts where this record claims to end, trust it only if its
        // checksum holds over exactly those bytes.
        // A header whose id disagrees with its own time or Received line may be damaged in
        // its id: trust it only if the checksum holds (else its row would carry a wrong id).
        if (rec && !opts.verify && ((rec.end < size && !(await frameStartsAt(r, rec.end))) || !headerConsistent(rec))) {
          rec = await recordAt(r, segment, pos, size, true);
          if (rec && !rec.crcOk) rec = null;
        }
        if (rec) {
          yield rec;
          pos = rec.end;
          continue;
        }
        const next = await nextValidRecord(r, segment, pos + 1, size);
        const end = next ?? size;
        const [id = null, ...otherIds] = await salvageIds(r, pos, end);
        yield { kind: 'damage', segment, offset: pos, end, id, ...(otherIds.length > 0 && { otherIds }) };
        pos = end;
      }
    } finally {
      await fh.close();
    }
  }

  /**
   * The raw message bytes of record `id`, checked: the frame, the checksum and
   * the id in its header must all hold, so a read never returns another mail's
   * bytes. Throws SPOOL_MISSING / SPOOL_CORRUPT.
   */
  async read(ref: SpoolRef, id: string): Promise<Buffer> {
    return (await this.readRecord(ref, id)).body;
  }

  /** Like {@link read}, with the record's envelope and receipt time from its header. */
  async readRecord(ref: SpoolRef, id: string): Promise<{ body: Buffer; envelope: Envelope; receivedAt: number }> {
    // Cache the opening itself, so concurrent first reads of a segment share one handle.
    let opening = this.readHandles.get(ref.segment);
    if (!opening) {
      opening = fsp.open(path.join(this.dir, segmentName(ref.segment)), 'r');
      this.readHandles.set(ref.segment, opening);
      opening.catch(() => this.readHandles.delete(ref.segment));
    }
    let fh: FileHandle;
    try {
      fh = await opening;
    } catch (err) {
      throw new CodedError('SPOOL_MISSING', `segment ${ref.segment} is not in the spool`, { cause: err });
    }
    const where = `record ${id} at ${ref.segment}:${ref.offset}`;
    // One read into two buffers: the body gets its own memory, so the pipeline can hand it to a
    // parser worker as is (transferred) instead of copying a 25 MB message out of a larger buffer.
    const buf = Buffer.allocUnsafe(FRAME_BYTES + ref.headerLength);
    const body = Buffer.allocUnsafeSlow(ref.bodyLength);
    const { bytesRead } = await fh.readv([buf, body], ref.offset);
    if (bytesRead !== buf.length + body.length || buf.readUInt32LE(0) !== MAGIC)
      throw new CodedError('SPOOL_CORRUPT', `${where} is incomplete`);
    if (buf.readUInt32LE(4) !== ref.headerLength || buf.readUInt32LE(8) !== ref.bodyLength) {
      throw new CodedError('SPOOL_CORRUPT', `${where}: its frame does not match the index`);
    }
    const header = buf.subarray(FRAME_BYTES);
    if (zlib.crc32(body, zlib.crc32(header)) >>> 0 !== buf.readUInt32LE(12))
      throw new CodedError('SPOOL_CORRUPT', `${where} failed its checksum`);
    const parsed = parseHeader(header);
    if (parsed?.id !== id) throw new CodedError('SPOOL_CORRUPT', `${where} holds another record`);
    return { body, envelope: parsed.envelope, receivedAt: parsed.receivedAt };
  }

  /** Closes read handles of segments that are not being written (after a purge, or periodically). */
  async releaseReaders(keep: (segment: number) => boolean = () => false): Promise<void> {
    for (const [seg, opening] of this.readHandles) {
      if (!keep(seg)) {
        this.readHandles.delete(seg);
        await opening.then((fh) => fh.close()).catch(() => undefined);
      }
    }
  }

  /** Deletes a whole segment file (retention). Refuses the segment being written. */
  async removeSegment(segment: number): Promise<void> {
    if (segment >= this.segment) throw new Error(`segment ${segment} is still being written`);
    await this.releaseReaders((s) => s !== segment);
    await fsp.rm(path.join(this.dir, segmentName(segment)), { force: true });
  }

  /** Stops accepting, waits for the flush in progress, closes files. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing) await this.flushing;
    await this.releaseReaders();
    await this.fh?.close().catch(() => undefined);
    this.fh = null;
  }
}

async function writeAll(fh: FileHandle, buffers: Buffer[], position: number, total: number): Promise<void> {
  let written = 0;
  let bufs = buffers;
  // writev may write less than asked (signals, large batches): continue where it stopped.
  while (written < total) {
    const { bytesWritten } = await fh.writev(bufs, position + written);
    if (bytesWritten === 0) throw Object.assign(new Error('short write'), { code: 'EIO' });
    written += bytesWritten;
    if (written < total) bufs = sliceBuffers(buffers, written);
  }
}

function sliceBuffers(buffers: Buffer[], skip: number): Buffer[] {
  const out: Buffer[] = [];
  let rest = skip;
  for (const b of buffers) {
    if (rest >= b.length) {
      rest -= b.length;
      continue;
    }
    out.push(rest > 0 ? b.subarray(rest) : b);
    rest = 0;
  }
  return out;
}

/** fsync a directory so a created or renamed entry survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

type RecordHeader = { id: string; receivedAt: number; envelope: Envelope };

function parseHeader(header: Buffer): RecordHeader | null {
  try {
    const h = JSON.parse(header.toString('utf8')) as Partial<RecordHeader> | null;
    return h &&
      typeof h.id === 'string' &&
      typeof h.receivedAt === 'number' &&
      typeof h.envelope === 'object' &&
      h.envelope !== null
      ? (h as RecordHeader)
      : null;
  } catch {
    return null;
  }
}

/** How much a scan reads ahead: frames and headers of many records come from one read. */
const READ_AHEAD_BYTES = 1024 * 1024;

/** Positional reads of one segment through a read-ahead window (scans read small pieces in order). */
class SegmentReader {
  private window: Buffer = Buffer.alloc(0);
  private windowAt = 0;
  constructor(private readonly fh: FileHandle) {}

  async read(position: number, length: number): Promise<Buffer> {
    if (position >= this.windowAt && position + length <= this.windowAt + this.window.length)
      return this.window.subarray(position - this.windowAt, position - this.windowAt + length);
    if (length > READ_AHEAD_BYTES / 2) return this.direct(position, length);
    this.window = await this.direct(position, READ_AHEAD_BYTES);
    this.windowAt = position;
    return this.window.subarray(0, Math.min(length, this.window.length));
  }

  private async direct(position: number, length: number): Promise<Buffer> {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await this.fh.read(buf, 0, length, position);
    return bytesRead === length ? buf : buf.subarray(0, bytesRead);
  }
}

/** Tries of the sync at open: a full disk or a passing I/O error may clear (retention, an operator). */
const OPEN_SYNC_ATTEMPTS = 5;
const OPEN_SYNC_FIRST_WAIT_MS = 100;

/**
 * Makes the segment being adopted durable, retrying a failed sync with a
 * doubling wait (1.5 s in all). Failing that, start-up stops with the reason:
 * records the spool cannot keep must not be taken in.
 */
async function syncAdopted(fh: FileHandle, file: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await fh.datasync();
      return;
    } catch (err) {
      if (attempt >= OPEN_SYNC_ATTEMPTS) {
        await fh.close().catch(() => undefined);
        const code = (err as NodeJS.ErrnoException).code === 'ENOSPC' ? 'SPOOL_NO_SPACE' : 'SPOOL_IO';
        throw new CodedError(code, `cannot make the spool segment ${file} durable: ${(err as Error).message}`, {
          cause: err,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, OPEN_SYNC_FIRST_WAIT_MS * 2 ** (attempt - 1)));
    }
  }
}

/** The record framed at `pos`, or null when the bytes there do not frame as one (damage, or a torn tail). */
async function recordAt(
  r: SegmentReader,
  segment: number,
  pos: number,
  size: number,
  verify: boolean,
): Promise<ScannedRecord | null> {
  if (pos + FRAME_BYTES > size) return null;
  const frame = await r.read(pos, FRAME_BYTES);
  if (frame.readUInt32LE(0) !== MAGIC) return null;
  const headerLength = frame.readUInt32LE(4);
  const bodyLength = frame.readUInt32LE(8);
  const end = pos + FRAME_BYTES + headerLength + bodyLength;
  if (headerLength === 0 || headerLength > MAX_HEADER_BYTES || end > size) return null;
  const header = await r.read(pos + FRAME_BYTES, headerLength);
  const meta = parseHeader(header);
  if (!meta) return null;
  let crcOk = true;
  if (verify) {
    const body = await r.read(pos + FRAME_BYTES + headerLength, bodyLength);
    crcOk = zlib.crc32(body, zlib.crc32(header)) >>> 0 === frame.readUInt32LE(12);
  }
  return {
    kind: 'record',
    id: meta.id,
    receivedAt: meta.receivedAt,
    envelope: meta.envelope,
    size: bodyLength,
    ref: { segment, offset: pos, headerLength, bodyLength },
    end,
    crcOk,
  };
}

/** True when a frame magic is at `pos`. */
async function frameStartsAt(r: SegmentReader, pos: number): Promise<boolean> {
  const magic = await r.read(pos, MAGIC_BYTES.length);
  return magic.equals(MAGIC_BYTES);
}

/** Offset of the first record after damage whose frame, header and checksum all hold; null when none follows. */
async function nextValidRecord(r: SegmentReader, segment: number, from: number, size: number): Promise<number | null> {
  for (let chunkAt = from; chunkAt < size; chunkAt += RESYNC_CHUNK_BYTES) {
    // Overlap chunks by the magic's length so a frame across a boundary is found.
    const chunk = await r.read(chunkAt, Math.min(RESYNC_CHUNK_BYTES + MAGIC_BYTES.length, size - chunkAt));
    for (
      let i = chunk.indexOf(MAGIC_BYTES);
      i !== -1 && i < RESYNC_CHUNK_BYTES;
      i = chunk.indexOf(MAGIC_BYTES, i + 1)
    ) {
      const candidate = await recordAt(r, segment, chunkAt + i, size, true);
      if (candidate?.crcOk) return chunkAt + i;
    }
  }
  return null;
}

/**
 * The header's own cross-checks: an id's first nine characters are its
 * receivedAt in base 36, and its Received line (when written) names it. One
 * damaged byte in the id breaks one of them.
 */
function headerConsistent(h: { id: string; receivedAt: number; envelope: Envelope }): boolean {
  return (
    SPOOL_ID.test(h.id) &&
    Number.parseInt(h.id.slice(0, 9), 36) === h.receivedAt &&
    (typeof h.envelope.received !== 'string' || h.envelope.received.includes(`\tid ${h.id}`))
  );
}

/**
 * The spool ids a damaged span still names, in the order they appear (the
 * first record's first). A span may cover several records (a zeroed block
 * across two small ones), so every header in it is read, not only the first.
 * Each header names its id twice, in its `id` field and its Received line;
 * when one byte made the two differ, the reading whose time part matches the
 * header's receivedAt is kept and the other dropped; when nothing tells them
 * apart, both are kept. Empty when no id can be read.
 */
async function salvageIds(r: SegmentReader, pos: number, end: number): Promise<string[]> {
  const text = (await r.read(pos, Math.min(SALVAGE_BYTES, end - pos))).toString('latin1');
  const starts = [...text.matchAll(HEADER_START)].map((m) => ({ at: m.index, id: m[1]!, receivedAt: Number(m[2]) }));
  const received = [...text.matchAll(SPOOL_ID_IN_RECEIVED)].map((m) => ({ at: m.index, id: m[1]! }));
  const inHeaders = new Set(starts.map((h) => h.id));
  const inReceived = new Set(received.map((x) => x.id));
  const timely = (id: string, receivedAt: number) => Number.parseInt(id.slice(0, 9), 36) === receivedAt;
  const wrong = new Set<string>();
  for (const [i, h] of starts.entries()) {
    if (inReceived.has(h.id)) continue; // both copies agree
    // The other copy: an id in this header's Received line that no header field names.
    const until = Math.min(starts[i + 1]?.at ?? Infinity, h.at + MAX_ENVELOPE_REACH);
    const other = received.find((x) => x.at > h.at && x.at < until && !inHeaders.has(x.id));
    if (other && timely(h.id, h.receivedAt) !== timely(other.id, h.receivedAt))
      wrong.add(timely(h.id, h.receivedAt) ? other.id : h.id);
  }
  const all = [...starts, ...received].sort((x, y) => x.at - y.at).map((x) => x.id);
  return [...new Set(all)].filter((id) => !wrong.has(id));
}

/**
 * True when the bytes from `pos` to the end of the file are one whole record:
 * as framed, or with one of its two length fields damaged and the checksum
 * confirming the repaired reading. A torn write is always shorter than its frame.
 */
async function wholeRecordAt(r: SegmentReader, pos: number, size: number): Promise<boolean> {
  if (pos + FRAME_BYTES > size) return false;
  const frame = await r.read(pos, FRAME_BYTES);
  const headerLength = frame.readUInt32LE(4);
  const bodyLength = frame.readUInt32LE(8);
  const available = size - pos - FRAME_BYTES;
  if (headerLength + bodyLength === available) return true;
  const crc = frame.readUInt32LE(12);
  const content = await r.read(pos + FRAME_BYTES, available);
  return zlib.crc32(content) >>> 0 === crc;
}
