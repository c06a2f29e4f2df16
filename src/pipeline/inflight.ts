/**
 * Crash-loop guard. A worker that exhausts its heap with certain allocations
 * aborts the whole process, whatever its `resourceLimits` (nodejs/node#47224),
 * and a poison message would then kill the server at every restart. So the
 * ids handed to workers are appended to `inflight.log` (one small write, no
 * fsync: it must survive the process, not the machine) and the file is
 * emptied whenever nothing is in flight. After a crash the ids still listed
 * are the suspects: each costs one attempt and is retried alone, so the
 * poison message is dead-lettered after `pipeline.maxAttempts` crashes and
 * the others are processed.
 */
import fs from 'node:fs';
import path from 'node:path';

export class InflightLog {
  private fd: number | null = null;
  private position = 0;
  private readonly file: string;

  constructor(dataDir: string) {
    this.file = path.join(dataDir, 'inflight.log');
  }

  /** Opens the log; returns the ids a crashed predecessor left in flight. */
  open(): string[] {
    let suspects: string[] = [];
    try {
      suspects = [...new Set(fs.readFileSync(this.file, 'utf8').split('\n').filter(Boolean))];
    } catch {
      // no log: first start, or it was removed
    }
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    this.fd = fs.openSync(this.file, 'w', 0o640);
    this.position = 0;
    return suspects;
  }

  add(id: string): void {
    if (this.fd === null) return;
    const line = Buffer.from(`${id}\n`);
    fs.writeSync(this.fd, line, 0, line.length, this.position);
    this.position += line.length;
  }

  /** Called when nothing is in flight: the next crash has no suspects from before. */
  clear(): void {
    if (this.fd === null || this.position === 0) return;
    fs.ftruncateSync(this.fd, 0);
    this.position = 0;
  }

  close(): void {
    if (this.fd === null) return;
    this.clear();
    fs.closeSync(this.fd);
    this.fd = null;
  }
}
