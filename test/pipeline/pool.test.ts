import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ParserPool } from '../../src/pipeline/pool.ts';
import { loadSiteDefinitions } from '../../src/extract/index.ts';
import { SHIPPED_SITES_DIR } from '../../src/paths.ts';

const RAW = fs.readFileSync(path.join(import.meta.dirname, '../fixtures/tabelog/new.eml'));
const pool = new ParserPool({
  size: 1,
  timeoutMs: 30_000,
  maxOldGenerationSizeMb: 256,
  tasksPerWorker: 4,
  workerData: { sites: loadSiteDefinitions([SHIPPED_SITES_DIR]) },
});
afterAll(() => pool.close());

const task = (id: string, exclusive = false) => {
  const raw = new Uint8Array(RAW);
  return { id, raw, exclusive };
};

describe('parser pool', () => {
  it('runs several tasks on one worker at once, but an exclusive task alone', async () => {
    const running = new Set<string>();
    const seen: { id: string; alongside: string[] }[] = [];
    pool.on('dispatch', (id: string) => {
      seen.push({ id, alongside: [...running] });
      running.add(id);
    });
    pool.on('settled', (id: string) => running.delete(id));
    const run = (t: ReturnType<typeof task>) => pool.run(t, [t.raw.buffer]);
    const results = await Promise.all([
      run(task('a')),
      run(task('b')),
      run(task('suspect', true)),
      run(task('c')),
      run(task('d')),
    ]);
    expect(results.every((r) => r.ok)).toBe(true);
    const at = (id: string) => seen.find((s) => s.id === id)!;
    // a and b share the worker; the exclusive task waits for it to empty and
    // holds the queue, so c and d start only after it.
    expect(at('b').alongside).toEqual(['a']);
    expect(at('suspect').alongside).toEqual([]);
    expect(at('c').alongside).not.toContain('suspect');
    expect(at('d').alongside).not.toContain('suspect');
    expect(seen.map((s) => s.id)).toEqual(['a', 'b', 'suspect', 'c', 'd']);
  });
});
