/**
 * The fault-injecting file system seam of the simulation: a {@link SpoolIo}
 * whose handles fail `writev` / `datasync` with EIO or ENOSPC when armed, die
 * with the process (every call fails after {@link FaultIo.kill}), and remember
 * how much of each file was made durable so that a power cut can be emulated:
 * whatever was written after the last successful `datasync` survives only in
 * part (a random prefix), exactly what a disk may keep.
 */
import fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import fsp from 'node:fs/promises';
import type { SpoolIo } from '../../src/spool/index.ts';
import type { Rng } from './rng.ts';

export type FaultOp = 'writev' | 'datasync';
export type FaultCode = 'EIO' | 'ENOSPC';

function ioError(code: FaultCode | 'EBADF', op: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`${code}: injected fault, ${op}`);
  e.code = code;
  return e;
}

export class FaultIo implements SpoolIo {
  /** Durable length of each file: its size at the last successful datasync. */
  private readonly synced = new Map<string, number>();
  private armed: { op: FaultOp; code: FaultCode; left: number } | null = null;
  private dead = false;
  /** The real handles this seam opened, closed when the process dies (as the kernel would). */
  private readonly handles = new Set<FileHandle>();
  /** Faults injected so far (for the report). */
  injected = 0;

  arm(op: FaultOp, code: FaultCode, count: number): void {
    this.armed = { op, code, left: count };
  }

  disarm(): void {
    this.armed = null;
  }

  /** The process is gone: no call on any handle opened so far or later succeeds. */
  kill(): void {
    this.dead = true;
    for (const fh of this.handles) void fh.close().catch(() => undefined);
    this.handles.clear();
  }

  /** A new process: handles work again (those of the dead one stay dead). */
  revive(): FaultIo {
    const next = new FaultIo();
    for (const [f, n] of this.synced) next.synced.set(f, n);
    return next;
  }

  private fault(op: FaultOp): NodeJS.ErrnoException | null {
    if (this.dead) return ioError('EBADF', op);
    const a = this.armed;
    if (!a || a.op !== op) return null;
    a.left -= 1;
    if (a.left <= 0) this.armed = null;
    this.injected += 1;
    return ioError(a.code, op);
  }

  async open(file: string, flags: string): Promise<FileHandle> {
    if (this.dead) throw ioError('EBADF', 'open');
    const fh = await fsp.open(file, flags, 0o640);
    this.handles.add(fh);
    if (!this.synced.has(file)) this.synced.set(file, (await fh.stat()).size);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the proxy's handlers need the seam
    const io = this;
    return new Proxy(fh, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        const fn = value as (...args: unknown[]) => Promise<unknown>;
        if (prop === 'writev' || prop === 'write')
          return async (...args: unknown[]) => {
            const err = io.fault('writev');
            if (err) throw err;
            return fn.apply(target, args);
          };
        if (prop === 'datasync' || prop === 'sync')
          return async () => {
            const err = io.fault('datasync');
            if (err) throw err;
            await fn.apply(target, []);
            io.synced.set(file, (await target.stat()).size);
          };
        if (prop === 'close')
          return async () => {
            if (!io.handles.delete(target)) return; // already closed by the process's death
            await fn.apply(target, []);
          };
        if (prop === 'truncate' || prop === 'read' || prop === 'stat')
          return async (...args: unknown[]) => {
            if (io.dead) throw ioError('EBADF', String(prop));
            return fn.apply(target, args);
          };
        return fn.bind(target);
      },
    });
  }

  /**
   * A power cut after {@link kill}: every file this seam wrote keeps its
   * durable length plus a random prefix of what came after (a torn tail).
   * Returns the files it cut.
   */
  powerCut(rng: Rng): string[] {
    const cut: string[] = [];
    for (const [file, durable] of this.synced) {
      let size: number;
      try {
        size = fs.statSync(file).size;
      } catch {
        continue;
      }
      if (size <= durable) continue;
      const keep = durable + rng.int(0, size - durable);
      fs.truncateSync(file, keep);
      cut.push(file);
    }
    return cut;
  }
}
