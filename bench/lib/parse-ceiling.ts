/**
 * The parse ceiling: bare mailparser (`simpleParser`) on the bench mail in N
 * worker threads, nothing else. Measured in the same run as the pipeline
 * scenarios, it is the reference their drain rate is compared with: what this
 * machine, right now, can parse at all.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { simpleParser } from 'mailparser';
import { messageVariants } from './smtp-load.ts';

interface Job {
  raw: Buffer;
  count: number;
}

/** Parses `count` distinct variants of `raw` in `workers` threads; returns messages per second. */
export async function parseCeiling(raw: Buffer, count: number, workers: number): Promise<number> {
  const each = Math.ceil(count / workers);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: workers }, () => {
      const w = new Worker(fileURLToPath(import.meta.url), { workerData: { raw, count: each } satisfies Job });
      return new Promise<void>((resolve, reject) => {
        w.once('message', () => resolve());
        w.once('error', reject);
        w.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`parse worker exited with ${code}`))));
      });
    }),
  );
  return (each * workers * 1000) / (performance.now() - t0);
}

async function work(job: Job): Promise<void> {
  const variant = messageVariants(Buffer.from(job.raw));
  for (let i = 0; i < job.count; i++) {
    // The same skip options as a receiver that only needs text and headers.
    await simpleParser(variant(i), { skipImageLinks: true, skipTextToHtml: true, skipTextLinks: true });
  }
  parentPort?.postMessage('done');
}

if (!isMainThread && parentPort) void work(workerData as Job);
