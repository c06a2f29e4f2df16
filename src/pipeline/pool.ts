/**
 * A pool of parser worker threads. mailparser is in maintenance mode and its
 * regexes may be ReDoS-prone, so parsing never runs on the event loop that
 * serves SMTP: each task gets a wall-clock timeout, each worker a heap limit,
 * and a worker that times out, dies or runs out of memory is replaced — the
 * task fails with a coded reason and the pipeline decides whether to retry.
 */
import { Worker } from 'node:worker_threads';
import { CodedError } from '../errors.ts';
import type { WorkerResult, WorkerTask } from './worker.ts';

export interface PoolOptions {
  size: number;
  timeoutMs: number;
  maxOldGenerationSizeMb: number;
  /** Data every worker needs once (site definitions). */
  workerData: unknown;
}

interface Job {
  task: WorkerTask;
  transfer: ArrayBuffer[];
  resolve: (r: WorkerResult) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  job: Job | null;
  timer: NodeJS.Timeout | null;
  ready: boolean;
}

/**
 * The worker entry: compiled JavaScript in dist/. When running from TypeScript
 * sources (tests, development) a one-line bootstrap registers tsx in the worker
 * first — a worker does not inherit the parent's module loader hooks on Node 20.
 */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(FROM_SOURCE ? './worker.ts' : './worker.js', import.meta.url);
function workerEntry(): { entry: URL | string; eval: boolean } {
  if (!FROM_SOURCE) return { entry: WORKER_URL, eval: false };
  return { entry: `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`, eval: true };
}

export class ParserPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private closed = false;
  /** Replacements after a timeout or crash (for metrics and tests). */
  restarts = 0;

  constructor(private readonly opts: PoolOptions) {
    for (let i = 0; i < opts.size; i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const { entry, eval: isEval } = workerEntry();
    const worker = new Worker(entry, {
      eval: isEval,
      workerData: this.opts.workerData,
      resourceLimits: { maxOldGenerationSizeMb: this.opts.maxOldGenerationSizeMb },
    });
    const slot: Slot = { worker, job: null, timer: null, ready: true };
    worker.on('message', (result: WorkerResult) => {
      const job = slot.job;
      if (!job) return;
      this.finish(slot);
      job.resolve(result);
      this.dispatch();
    });
    worker.on('error', (err: Error & { code?: string }) => this.replace(slot, err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? new CodedError('PARSE_RESOURCE_LIMIT', err.message) : new CodedError('PARSE_WORKER_CRASHED', err.message)));
    worker.on('exit', (code) => {
      if (!this.closed && this.slots.includes(slot)) this.replace(slot, new CodedError('PARSE_WORKER_CRASHED', `parser worker exited with code ${code}`));
    });
    worker.unref();
    return slot;
  }

  private finish(slot: Slot): void {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    slot.job = null;
  }

  private replace(slot: Slot, reason: CodedError): void {
    const idx = this.slots.indexOf(slot);
    if (idx < 0) return;
    const job = slot.job;
    this.finish(slot);
    this.slots.splice(idx, 1);
    slot.worker.removeAllListeners('exit');
    void slot.worker.terminate();
    if (!this.closed) {
      this.restarts += 1;
      this.slots.push(this.spawn());
    }
    job?.reject(reason);
    this.dispatch();
  }

  /** Parses one message; rejects with PARSE_TIMEOUT / PARSE_WORKER_CRASHED / PARSE_RESOURCE_LIMIT. */
  run(task: WorkerTask, transfer: ArrayBuffer[] = []): Promise<WorkerResult> {
    if (this.closed) return Promise.reject(new CodedError('INTERNAL', 'parser pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ task, transfer, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.job) continue;
      const job = this.queue.shift()!;
      slot.job = job;
      slot.timer = setTimeout(() => this.replace(slot, new CodedError('PARSE_TIMEOUT', `parsing exceeded ${this.opts.timeoutMs} ms`)), this.opts.timeoutMs);
      slot.worker.postMessage(job.task, job.transfer);
    }
  }

  /** Tasks running or queued. */
  get busy(): number {
    return this.queue.length + this.slots.filter((s) => s.job).length;
  }

  get size(): number {
    return this.slots.length;
  }

  /** Test hook: the thread ids of the workers (to kill one mid-task). */
  get workers(): Worker[] {
    return this.slots.map((s) => s.worker);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new CodedError('INTERNAL', 'parser pool closed'));
    await Promise.all(
      this.slots.map(async (s) => {
        this.finish(s);
        await s.worker.terminate();
      }),
    );
  }
}
