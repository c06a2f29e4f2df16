/**
 * One server per data directory: two would both append to the same spool
 * journal. `serve` holds `<dataDir>/ota-inbound.pid`; a stale file left by a
 * crash (its process is gone) is taken over.
 */
import fs from 'node:fs';
import path from 'node:path';

const LOCK_FILE = 'ota-inbound.pid';
/** Data directories this process holds (a second node in the same process is refused too). */
const heldHere = new Set<string>();

function alive(pid: number, dataDir: string): boolean {
  // Our own pid: held by this process now, or a stale file from our previous life (PID 1 in a container).
  if (pid === process.pid) return heldHere.has(path.resolve(dataDir));
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid of a live server holding the data directory, or null. */
export function readLock(dataDir: string): number | null {
  try {
    const pid = Number(fs.readFileSync(path.join(dataDir, LOCK_FILE), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && alive(pid, dataDir) ? pid : null;
  } catch {
    return null;
  }
}

/** Takes the lock or throws naming the process that holds it. Returns a release function. */
export function acquireLock(dataDir: string): () => void {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, LOCK_FILE);
  const holder = readLock(dataDir);
  if (holder) throw new Error(`another ota-inbound (pid ${holder}) is running with data directory ${dataDir}`);
  fs.writeFileSync(file, `${process.pid}\n`);
  heldHere.add(path.resolve(dataDir));
  return () => {
    heldHere.delete(path.resolve(dataDir));
    try {
      if (fs.readFileSync(file, 'utf8').trim() === String(process.pid)) fs.rmSync(file);
    } catch {
      // already gone
    }
  };
}
