/**
 * A real local webhook receiver (node:http on port 0) that records every
 * request and answers what the test tells it to, plus event-driven waiting
 * helpers (no sleeps: every wait is woken by something that happened).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventEmitter, once } from 'node:events';
import type { App } from '../../src/app.ts';
import type { WebhookPayload } from '../../src/deliver/index.ts';

export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: WebhookPayload;
  /** What the receiver answered. */
  status: number;
  at: number;
}

export type Answer = number | { status: number; headers?: Record<string, string>; body?: string; delayMs?: number };

export class Receiver extends EventEmitter {
  readonly requests: Received[] = [];
  /** Decides the answer per request; 200 by default. */
  respond: (req: Omit<Received, 'status' | 'at'>, n: number) => Answer = () => 200;
  port = 0;
  inflight = 0;
  /** Requests seen, answered or not (the `n` passed to `respond`). */
  arrivals = 0;
  maxInflight = 0;
  private server: http.Server | null = null;

  get listening(): boolean {
    return this.server !== null;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/reservations`;
  }

  /** Listens (on `port`, or the previous one after a close, or a free one). */
  async start(port = this.port): Promise<this> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      this.inflight++;
      this.maxInflight = Math.max(this.maxInflight, this.inflight);
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const base = {
          method: req.method!,
          url: req.url!,
          headers: req.headers,
          body,
          json: JSON.parse(body) as WebhookPayload,
        };
        const a = this.respond(base, this.arrivals++);
        const answer = typeof a === 'number' ? { status: a } : a;
        const finish = () => {
          this.inflight--;
          if (res.destroyed) return;
          const rec: Received = { ...base, status: answer.status, at: Date.now() };
          this.requests.push(rec);
          res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers });
          res.end(answer.body ?? '');
          this.emit('request', rec);
        };
        if (answer.delayMs) setTimeout(finish, answer.delayMs);
        else finish();
      });
    });
    server.keepAliveTimeout = 1_000;
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  /** Closes the port (and every open connection): the receiver is "down". */
  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = null;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Requests answered with a 2xx. */
  get acked(): Received[] {
    return this.requests.filter((r) => r.status >= 200 && r.status < 300);
  }
}

/**
 * Resolves with the first truthy value of `predicate`, re-checking whenever
 * one of the sources emits (a receiver request, a dispatcher attempt, a
 * pipeline batch). The test timeout bounds it.
 */
export async function until<T>(
  predicate: () => T | undefined | null | false,
  sources: [EventEmitter, string][],
): Promise<T> {
  for (;;) {
    const v = predicate();
    if (v) return v;
    const ac = new AbortController();
    try {
      await Promise.race(sources.map(([em, ev]) => once(em, ev, { signal: ac.signal })));
    } finally {
      ac.abort();
    }
  }
}

/** The usual sources for one app: its pipeline batches and its dispatcher's attempts. */
export function progress(app: App, receiver?: Receiver): [EventEmitter, string][] {
  return [
    [app.pipeline, 'persisted'],
    [app.dispatcher, 'attempt'],
    ...(receiver ? [[receiver, 'request'] as [EventEmitter, string]] : []),
  ];
}

/** Authorised JSON request to a node's API. */
export async function api<T = unknown>(
  app: App,
  path: string,
  opts: { method?: string; token?: string | null } = {},
): Promise<{ status: number; body: T; headers: Headers }> {
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? app.config.http.apiToken : opts.token;
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`http://127.0.0.1:${app.httpPort}${path}`, { method: opts.method ?? 'GET', headers });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (raw .eml)
  }
  return { status: res.status, body: body as T, headers: res.headers };
}
