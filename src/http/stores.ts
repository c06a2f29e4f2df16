/**
 * The store registry API (docs/stores.md): list, create, rename, rotate,
 * revoke, and the per-site status of each store. Same auth as every `/api/`
 * route (the hook in api.ts covers any path under `/api/`); errors answer
 * `{error: {code, message}}` like the rest of the API.
 */
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { RegistryError, type SiteActivity, type StoreRecord, type StoreRegistry } from '../store/index.ts';
import type { JsonSchema } from './api-schemas.ts';
import { errorSchema } from './api-schemas.ts';
import { iso } from './json.ts';

export interface StoreRoutesDeps {
  registry: StoreRegistry;
  /** `registry.domain`: the domain of every intake address. */
  domain: string;
  /** Site ids of the loaded site definitions (config/sites), in the order the page lists them. */
  sites: readonly string[];
  clock?: () => number;
}

/** Per-site state: nothing seen yet, set up (a mail seen or declared), or reservations arriving. */
export type SiteState = 'unconfigured' | 'configured' | 'receiving';

/** How a site stands at a store (docs/stores.md, "Site status"). */
export function siteState(a: Pick<SiteActivity, 'lastMailAt' | 'lastReservationAt' | 'declaredAt'>): SiteState {
  if (a.lastReservationAt !== null) return 'receiving';
  if (a.lastMailAt !== null || a.declaredAt !== null) return 'configured';
  return 'unconfigured';
}

function verificationJson(v: SiteActivity['verification']) {
  return v ? { messageId: v.messageId, receivedAt: iso(v.receivedAt)!, code: v.code, link: v.link } : null;
}

/** The `Store` object of the API contract (extended only by added fields). */
export function storeJson(s: StoreRecord, deps: Pick<StoreRoutesDeps, 'registry' | 'domain' | 'sites'>) {
  const { sites, general } = deps.registry.activity(s.id);
  // Every shipped site, then any other source mail arrived from (an operator's own site definition).
  const ids = [...deps.sites, ...[...sites.keys()].filter((k) => !deps.sites.includes(k))];
  return {
    id: s.id,
    name: s.name,
    status: s.status,
    address: `${s.current.localPart}@${deps.domain}`,
    previousAddresses: s.previous.map((a) => ({
      address: `${a.localPart}@${deps.domain}`,
      validUntil: iso(a.validUntil),
    })),
    createdAt: iso(s.createdAt)!,
    revokedAt: iso(s.revokedAt),
    updatedAt: iso(s.updatedAt)!,
    sites: ids.map((site) => {
      const a = sites.get(site) ?? { lastMailAt: null, lastReservationAt: null, declaredAt: null, verification: null };
      return {
        site,
        state: siteState(a),
        lastMailAt: iso(a.lastMailAt),
        lastReservationAt: iso(a.lastReservationAt),
        declaredAt: iso(a.declaredAt),
        verification: verificationJson(a.verification),
      };
    }),
    verification: verificationJson(general),
  };
}

const nstr: JsonSchema = { type: ['string', 'null'] };
const ntime: JsonSchema = { type: ['string', 'null'], format: 'date-time' };
const verificationSchema: JsonSchema = {
  type: ['object', 'null'],
  description: 'A forwarding-confirmation mail waiting for a person, with the code or link found in it.',
  properties: { messageId: { type: 'string' }, receivedAt: { type: 'string' }, code: nstr, link: nstr },
};
export const storeSchema: JsonSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', description: 'Store id: what messages, reservations and webhooks name.' },
    name: { type: 'string' },
    status: { type: 'string', enum: ['active', 'revoked'] },
    address: { type: 'string', description: 'The intake address to set as forwarding target at every site.' },
    previousAddresses: {
      type: 'array',
      description: 'Addresses before the last rotations; each delivers until validUntil.',
      items: { type: 'object', properties: { address: { type: 'string' }, validUntil: ntime } },
    },
    createdAt: { type: 'string', format: 'date-time' },
    revokedAt: ntime,
    updatedAt: { type: 'string', format: 'date-time' },
    sites: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          site: { type: 'string' },
          state: { type: 'string', enum: ['unconfigured', 'configured', 'receiving'] },
          lastMailAt: ntime,
          lastReservationAt: ntime,
          declaredAt: { ...ntime, description: 'When an operator declared the forwarding from this site set up.' },
          verification: verificationSchema,
        },
      },
    },
    verification: {
      ...verificationSchema,
      description: 'A forwarding confirmation no site claims (Gmail, Outlook) waiting for a person.',
    },
  },
};
const idParam: JsonSchema = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', maxLength: 64, description: 'Store id' } },
};
const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema };
const nameBody: JsonSchema = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: { name: { type: 'string', minLength: 1, maxLength: 200 } },
};
const schemas = {
  list: {
    summary: 'Registered stores with their intake addresses and per-site status',
    tags: ['stores'],
    response: { 200: { type: 'object', properties: { stores: { type: 'array', items: storeSchema } } }, ...errors },
  },
  get: { summary: 'One store', tags: ['stores'], params: idParam, response: { 200: storeSchema, ...errors } },
  create: {
    summary: 'Register a store: it gets a fresh unguessable intake address',
    tags: ['stores'],
    body: {
      type: 'object',
      required: ['name'],
      additionalProperties: false,
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 200 },
        id: { type: 'string', maxLength: 64, description: 'Default: from the name, or random.' },
      },
    },
    response: { 201: storeSchema, ...errors },
  },
  rename: {
    summary: 'Rename a store',
    tags: ['stores'],
    params: idParam,
    body: nameBody,
    response: { 200: storeSchema, ...errors },
  },
  rotate: {
    summary: 'Issue a new intake address; the current one keeps delivering for registry.graceDays',
    tags: ['stores'],
    params: idParam,
    response: { 200: storeSchema, ...errors },
  },
  revoke: {
    summary: 'Stop every intake address of a store (its mail is quarantined or refused, registry.inactiveAddress)',
    tags: ['stores'],
    params: idParam,
    response: { 200: storeSchema, ...errors },
  },
  declare: {
    summary: "Declare a site's forwarding set up for a store (state configured before any mail), or undo it",
    tags: ['stores'],
    params: {
      type: 'object',
      required: ['id', 'site'],
      properties: { id: { type: 'string', maxLength: 64 }, site: { type: 'string', maxLength: 64 } },
    },
    // Optional body `{"declared": false}` to undo; no body declares (checked in the handler: a body schema would require one).
    response: { 200: storeSchema, ...errors },
  },
} satisfies Record<string, JsonSchema>;

const STATUS_BY_CODE: Record<RegistryError['code'], number> = {
  STORE_NOT_FOUND: 404,
  STORE_EXISTS: 409,
  STORE_REVOKED: 409,
  INVALID_STORE_ID: 400,
  INVALID_NAME: 400,
};

/** Registers `/api/stores…` (call after registerApi so the routes are in the OpenAPI document). */
export async function registerStoreRoutes(app: FastifyInstance, deps: StoreRoutesDeps): Promise<void> {
  const { registry } = deps;
  const json = (s: StoreRecord) => storeJson(s, deps);
  const must = (id: string): StoreRecord => {
    const s = registry.get(id);
    if (!s) throw new RegistryError('STORE_NOT_FOUND', `no store ${JSON.stringify(id)}`);
    return s;
  };
  await app.register(
    async (api) => {
      // Actions carry no body; an empty JSON body is accepted as {} (as in the rest of the API).
      api.removeContentTypeParser('application/json');
      api.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
        if (body === '' || body === undefined) return done(null, {});
        try {
          done(null, JSON.parse(body as string));
        } catch {
          done(
            Object.assign(new Error('request body is not JSON'), { statusCode: 400, code: 'INVALID_JSON' }),
            undefined,
          );
        }
      });
      api.setErrorHandler((err: FastifyError | RegistryError, req, reply: FastifyReply) => {
        if (err instanceof RegistryError)
          return reply.code(STATUS_BY_CODE[err.code]).send({ error: { code: err.code, message: err.message } });
        if (err.validation) return reply.code(400).send({ error: { code: 'INVALID_REQUEST', message: err.message } });
        const status = err.statusCode ?? 500;
        if (status < 500)
          return reply.code(status).send({ error: { code: err.code ?? 'BAD_REQUEST', message: err.message } });
        req.log.error({ url: req.routeOptions.url, err }, 'store API request failed');
        return reply.code(500).send({ error: { code: 'INTERNAL', message: 'internal error (logged)' } });
      });

      api.get('/stores', { schema: schemas.list }, async () => ({ stores: registry.list().map(json) }));
      api.get<{ Params: { id: string } }>('/stores/:id', { schema: schemas.get }, async (req) =>
        json(must(req.params.id)),
      );
      api.post<{ Body: { name: string; id?: string } }>('/stores', { schema: schemas.create }, async (req, reply) => {
        const s = registry.create(req.body);
        req.log.info({ store: s.id }, `store ${s.id} registered`);
        return reply.code(201).send(json(s));
      });
      api.patch<{ Params: { id: string }; Body: { name: string } }>(
        '/stores/:id',
        { schema: schemas.rename },
        async (req) => json(registry.rename(req.params.id, req.body.name)),
      );
      api.post<{ Params: { id: string } }>('/stores/:id/rotate', { schema: schemas.rotate }, async (req) => {
        const s = registry.rotate(req.params.id);
        req.log.info({ store: s.id }, `store ${s.id}: intake address rotated`);
        return json(s);
      });
      api.post<{ Params: { id: string } }>('/stores/:id/revoke', { schema: schemas.revoke }, async (req) => {
        const s = registry.revoke(req.params.id);
        req.log.info({ store: s.id }, `store ${s.id} revoked`);
        return json(s);
      });
      api.post<{ Params: { id: string; site: string }; Body: { declared?: unknown } | undefined }>(
        '/stores/:id/sites/:site/declare',
        { schema: schemas.declare },
        async (req) => {
          const declared = req.body?.declared ?? true;
          if (typeof declared !== 'boolean')
            throw Object.assign(new Error('declared must be true or false'), {
              statusCode: 400,
              code: 'INVALID_REQUEST',
            });
          return json(registry.declareSite(req.params.id, req.params.site, declared));
        },
      );
    },
    { prefix: '/api' },
  );
}
