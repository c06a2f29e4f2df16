/**
 * A pool of parser worker threads. mailparser is in maintenance mode and its
 * regexes may be ReDoS-prone, so parsing never runs on the event loop that
 * serves SMTP: each task gets a wall-clock timeout, each worker a heap limit,
 * and a worker that times out, dies or runs out of memory is replaced — its
 * tasks fail with a coded reason and the pipeline decides whether to retry.
 *
 * Each worker runs a few tasks at once: sender authentication waits on DNS,
 * and those waits overlap instead of idling the thread. A worker that has to
 * be replaced takes its other tasks with it; they fail as PARSE_WORKER_CRASHED
 * (transient) and are retried.
 */
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import { CodedError } from '../errors.ts';
import type { DecodeResult, WorkerResult, WorkerTask } from './worker.ts';

/** Tasks one worker runs at once: CPU-bound parsing interleaved with DNS-bound authentication. */
export const TASKS_PER_WORKER = 4;

export interface PoolOptions {
  size: number;
  timeoutMs: number;
  maxOldGenerationSizeMb: number;
  /** Data every worker needs once (site definitions). */
  workerData: unknown;
  tasksPerWorker?: number;
}

interface Job {
  task: WorkerTask;
  transfer: ArrayBuffer[];
  resolve: (r: WorkerResult | DecodeResult) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | null;
}

interface Slot {
  worker: Worker;
  jobs: Map<string, Job>;
  /** Running an exclusive task: takes no other until it ends. */
  exclusive: boolean;
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
  return {
    entry: `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`,
    eval: true,
  };
}

/** Emits `dispatch` (task id, worker) when a task is handed to a worker and `settled` (task id) when it ends — for tests and tracing. */
export class ParserPool extends EventEmitter {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private readonly perWorker: number;
  private closed = false;
  /** Replacements after a timeout or crash (for metrics and tests). */
  restarts = 0;

  constructor(private readonly opts: PoolOptions) {
    super();
    this.perWorker = opts.tasksPerWorker ?? TASKS_PER_WORKER;
    for (let i = 0; i < opts.size; i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const { entry, eval: isEval } = workerEntry();
    const worker = new Worker(entry, {
      eval: isEval,
      workerData: this.opts.workerData,
      resourceLimits: { maxOldGenerationSizeMb: this.opts.maxOldGenerationSizeMb },
    });
    const slot: Slot = { worker, jobs: new Map(), exclusive: false };
    worker.on('message', (result: WorkerResult | DecodeResult) => {
      const job = slot.jobs.get(result.id);
      if (!job) return;
      this.settle(slot, result.id, job);
      job.resolve(result);
      this.dispatch();
    });
    worker.on('error', (err: Error & { code?: string }) =>
      this.replace(
        slot,
        err.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? new CodedError('PARSE_RESOURCE_LIMIT', err.message)
          : new CodedError('PARSE_WORKER_CRASHED', err.message),
      ),
    );
    worker.on('exit', (code) => {
      if (!this.closed && this.slots.includes(slot))
        this.replace(slot, new CodedError('PARSE_WORKER_CRASHED', `parser worker exited with code ${code}`));
    });
    worker.unref();
    return slot;
  }

  private settle(slot: Slot, id: string, job: Job): void {
    if (job.timer) clearTimeout(job.timer);
    slot.jobs.delete(id);
    this.emit('settled', id);
    if (slot.jobs.size === 0) slot.exclusive = false;
  }

  /**
   * Replaces a worker. When the task that caused it is known (its timeout, or
   * the only task on the worker) it gets `reason`; every other task gets the
   * transient PARSE_WORKER_CRASHED and is retried — alone (`exclusive`), so a
   * message that kills workers is found out without taking others with it.
   */
  private replace(slot: Slot, reason: CodedError, culprit?: string): void {
    if (culprit === undefined && slot.jobs.size === 1) culprit = slot.jobs.keys().next().value;
    const idx = this.slots.indexOf(slot);
    if (idx < 0) return;
    this.slots.splice(idx, 1);
    slot.worker.removeAllListeners('exit');
    void slot.worker.terminate();
    if (!this.closed) {
      this.restarts += 1;
      this.slots.push(this.spawn());
    }
    for (const [id, job] of slot.jobs) {
      this.settle(slot, id, job);
      job.reject(
        culprit === undefined || id === culprit
          ? reason
          : new CodedError(
              'PARSE_WORKER_CRASHED',
              `parser worker replaced while parsing another message (${reason.code})`,
            ),
      );
    }
    this.dispatch();
  }

  /** Processes one message; rejects with PARSE_TIMEOUT / PARSE_WORKER_CRASHED / PARSE_RESOURCE_LIMIT. */
  run(task: WorkerTask, transfer: ArrayBuffer[] = []): Promise<WorkerResult> {
    return this.send({ ...task, mode: 'process' }, transfer) as Promise<WorkerResult>;
  }

  /** Decodes a message's readable text for a person (same limits as processing: never on the main thread). */
  decode(id: string, raw: Buffer): Promise<DecodeResult> {
    const copy = new Uint8Array(raw);
    return this.send({ id: `decode:${id}:${process.hrtime.bigint()}`, raw: copy, mode: 'decode' }, [
      copy.buffer,
    ]) as Promise<DecodeResult>;
  }

  private send(task: WorkerTask, transfer: ArrayBuffer[]): Promise<WorkerResult | DecodeResult> {
    if (this.closed) return Promise.reject(new CodedError('INTERNAL', 'parser pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ task, transfer, resolve, reject, timer: null });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      // The least busy worker with room takes the next task; an exclusive task
      // waits (holding the queue, in order) for a worker with nothing else.
      const exclusive = this.queue[0]!.task.exclusive === true;
      let best: Slot | null = null;
      for (const s of this.slots) {
        if (s.exclusive || (exclusive ? s.jobs.size > 0 : s.jobs.size >= this.perWorker)) continue;
        if (!best || s.jobs.size < best.jobs.size) best = s;
      }
      if (!best) return;
      const slot = best;
      const job = this.queue.shift()!;
      slot.exclusive = exclusive;
      const id = job.task.id;
      slot.jobs.set(id, job);
      job.timer = setTimeout(
        () => this.replace(slot, new CodedError('PARSE_TIMEOUT', `parsing exceeded ${this.opts.timeoutMs} ms`), id),
        this.opts.timeoutMs,
      );
      slot.worker.postMessage(job.task, job.transfer);
      this.emit('dispatch', id, slot.worker);
    }
  }

  /** Tasks running or queued. */
  get busy(): number {
    return this.queue.length + this.slots.reduce((n, s) => n + s.jobs.size, 0);
  }

  get size(): number {
    return this.slots.length;
  }

  /** The worker threads (tests kill one mid-task). */
  get workers(): Worker[] {
    return this.slots.map((s) => s.worker);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new CodedError('INTERNAL', 'parser pool closed'));
    await Promise.all(
      this.slots.map(async (s) => {
        for (const [id, job] of s.jobs) this.settle(s, id, job);
        await s.worker.terminate();
      }),
    );
  }
}
