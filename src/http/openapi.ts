/**
 * The OpenAPI 3.1 document of `/api/`, generated from the route schemas that
 * fastify itself validates with (collected by an `onRoute` hook, so routes
 * other modules add under `/api/`, such as `/api/alerts`, appear too).
 */
import type { RouteOptions } from 'fastify';
import { errorSchema, type JsonSchema } from './api-schemas.ts';

export interface OpenApiParameter {
  name: string;
  in: 'path' | 'query';
  required: boolean;
  description?: string;
  schema: JsonSchema;
}

export interface OpenApiOperation {
  summary?: string;
  tags?: string[];
  parameters: OpenApiParameter[];
  responses: Record<string, { description: string; content?: Record<string, { schema: JsonSchema }> }>;
}

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  servers: { url: string }[];
  security: Record<string, string[]>[];
  components: { securitySchemes: Record<string, JsonSchema>; schemas: Record<string, JsonSchema> };
  paths: Record<string, Record<string, OpenApiOperation>>;
}

const STATUS_TEXT: Record<string, string> = {
  '200': 'OK',
  '202': 'Accepted',
  '400': 'Invalid request (see error.message)',
  '401': 'Missing or invalid bearer token',
  '403': 'No token configured and the client is not on loopback',
  '404': 'Not found',
  '409': 'Conflict with the current state',
  '410': 'Gone (raw message purged)',
  '500': 'Internal error',
};

interface RouteSchema {
  summary?: string;
  description?: string;
  tags?: string[];
  params?: JsonSchema;
  querystring?: JsonSchema;
  response?: Record<string, JsonSchema>;
  produces?: string[];
}

function parameters(schema: JsonSchema | undefined, where: 'path' | 'query'): OpenApiParameter[] {
  const props = (schema?.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema?.required ?? []) as string[]);
  return Object.entries(props).map(([name, s]) => {
    const { description, ...rest } = s;
    return {
      name,
      in: where,
      required: where === 'path' || required.has(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
    };
  });
}

/** Collects `/api` routes as they are registered and renders the document on demand. */
export class OpenApiCollector {
  private readonly routes: { method: string; url: string; schema: RouteSchema }[] = [];

  constructor(private readonly info: { version: string }) {}

  /** `onRoute` hook. */
  readonly onRoute = (route: RouteOptions): void => {
    if (!route.url.startsWith('/api')) return;
    for (const method of [route.method].flat()) {
      if (method === 'HEAD' || method === 'OPTIONS') continue;
      this.routes.push({ method: method.toLowerCase(), url: route.url, schema: (route.schema ?? {}) as RouteSchema });
    }
  };

  document(): OpenApiDocument {
    const paths: OpenApiDocument['paths'] = {};
    for (const r of this.routes) {
      const p = r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
      const responses: OpenApiOperation['responses'] = {};
      for (const [code, schema] of Object.entries(r.schema.response ?? {})) {
        responses[code] = {
          description: STATUS_TEXT[code] ?? 'Response',
          content: {
            'application/json': { schema: schema === errorSchema ? { $ref: '#/components/schemas/Error' } : schema },
          },
        };
      }
      if (r.schema.produces)
        responses['200'] = {
          description: 'OK',
          content: Object.fromEntries(r.schema.produces.map((t) => [t, { schema: { type: 'string' } }])),
        };
      if (Object.keys(responses).length === 0) responses['200'] = { description: 'OK' };
      (paths[p] ??= {})[r.method] = {
        ...(r.schema.summary ? { summary: r.schema.summary } : {}),
        ...(r.schema.tags ? { tags: r.schema.tags } : {}),
        parameters: [...parameters(r.schema.params, 'path'), ...parameters(r.schema.querystring, 'query')],
        responses,
      };
    }
    return {
      openapi: '3.1.0',
      info: {
        title: 'ota-inbound API',
        version: this.info.version,
        description:
          'Reservations, messages and webhook deliveries of one ota-inbound node. Authorisation: `Authorization: Bearer <http.apiToken>`; without a configured token only loopback clients are served. Authorised callers see personal data. Lists are newest first and paginated with an opaque `cursor`.',
      },
      servers: [{ url: '/' }],
      security: [{ bearer: [] }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } }, schemas: { Error: errorSchema } },
      paths,
    };
  }
}
