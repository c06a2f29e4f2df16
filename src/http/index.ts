/**
 * HTTP surface (fastify): Prometheus `/metrics`, liveness `/healthz`,
 * readiness `/readyz`, and the JSON API under `/api/` (routes registered by
 * their own modules). Listens on localhost by default.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../log/index.ts';

export type ReadinessResult = true | string | { warning: string };

export interface ReadinessCheck {
  name: string;
  /**
   * Resolves true when healthy; a string explains why not. `{ warning }` is
   * healthy but worth a look (a configuration finding): ready, with a detail.
   */
  check: () => Promise<ReadinessResult> | ReadinessResult;
}

export interface HttpDeps {
  registry: Registry;
  log: Logger;
  readiness: ReadinessCheck[];
  /** Hook for more routes (API, dashboard). */
  register?: (app: FastifyInstance) => void | Promise<void>;
}

/** Runs every readiness check; `ready` only when all pass. */
export async function runReadiness(
  checks: ReadinessCheck[],
): Promise<{ ready: boolean; checks: Record<string, { ok: boolean; detail?: string }> }> {
  const out: Record<string, { ok: boolean; detail?: string }> = {};
  await Promise.all(
    checks.map(async (c) => {
      try {
        const r = await c.check();
        out[c.name] =
          r === true
            ? { ok: true }
            : typeof r === 'string'
              ? { ok: false, detail: r }
              : { ok: true, detail: r.warning };
      } catch (err) {
        out[c.name] = { ok: false, detail: (err as Error).message };
      }
    }),
  );
  return { ready: Object.values(out).every((c) => c.ok), checks: out };
}

/** Builds the fastify app (not listening yet). */
export async function createHttpServer(deps: HttpDeps): Promise<FastifyInstance> {
  // The cast is needed: fastify's logger type is narrower than pino's child, though compatible at run time.
  const app = Fastify({
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
    loggerInstance: deps.log.child({ component: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const r = await runReadiness(deps.readiness);
    return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not ready', checks: r.checks });
  });
  app.get('/metrics', async (_req, reply) => {
    const body = await deps.registry.metrics();
    return reply.header('content-type', deps.registry.contentType).send(body);
  });
  await deps.register?.(app);
  return app;
}
