/**
 * Who may use the API (and the dashboard): with `http.apiToken` set, callers
 * presenting `Authorization: Bearer <token>`; without it, loopback clients
 * only, and only when they name this machine by a loopback name in `Host`
 * (DNS rebinding). Anyone who passes is authorised to see personal data (guest names,
 * phones, notes): the token is the only gate, so hand it out accordingly.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Paths under this prefix require authorisation. */
export const API_PREFIX = '/api/';

export type AuthResult =
  { ok: true } | { ok: false; status: 401 | 403; code: 'UNAUTHORIZED' | 'FORBIDDEN'; message: string };

const digest = (s: string) => createHash('sha256').update(s).digest();

function underApi(path: string): boolean {
  return path === '/api' || path.startsWith(API_PREFIX);
}

/** True for 127.0.0.0/8 and ::1, also in IPv4-mapped form. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/**
 * True for a Host header naming this machine by a loopback name: `localhost`
 * (or a name under `.localhost`, RFC 6761), `127.x.y.z`, `[::1]`, each with or
 * without a port. A browser on an attacker's page that rebound its own name to
 * 127.0.0.1 sends that name (`Host: attacker.example`), never one of these.
 */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const h = host.trim().toLowerCase();
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(h);
  if (!m) return false;
  const name = m[1]!.replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (name.startsWith('[')) return name === '[::1]' || /^\[::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}\]$/.test(name);
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

/**
 * Checks one request. The token comparison is constant-time (over SHA-256
 * digests, so the lengths never leak either). The peer address is the
 * socket's, never X-Forwarded-For.
 */
export function checkAuth(req: Pick<FastifyRequest, 'headers' | 'socket'>, token: string | null): AuthResult {
  if (token) {
    const m = /^Bearer[ \t]+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m)
      return {
        ok: false,
        status: 401,
        code: 'UNAUTHORIZED',
        message: 'missing bearer token (Authorization: Bearer <http.apiToken>)',
      };
    if (!timingSafeEqual(digest(m[1]!), digest(token)))
      return { ok: false, status: 401, code: 'UNAUTHORIZED', message: 'invalid bearer token' };
    return { ok: true };
  }
  if (isLoopback(req.socket.remoteAddress)) {
    // DNS rebinding: a page from attacker.example whose name now resolves to 127.0.0.1 is a loopback
    // client too. Only a request that names this machine by a loopback name is ours. (HTTP/1.1 requires
    // Host; an HTTP/1.0 request without one comes from no browser and is let through.)
    if (req.headers.host === undefined || isLoopbackHost(req.headers.host)) return { ok: true };
    return {
      ok: false,
      status: 403,
      code: 'FORBIDDEN',
      message:
        'without http.apiToken (OTA_INBOUND_API_TOKEN) only requests for localhost, 127.0.0.1 or [::1] are served (Host header names another host: DNS rebinding protection)',
    };
  }
  return {
    ok: false,
    status: 403,
    code: 'FORBIDDEN',
    message: 'no http.apiToken (OTA_INBOUND_API_TOKEN) is set: the API answers loopback clients only',
  };
}

/** An `onRequest` hook guarding every path under `/api/` (whoever registered the route). */
export function apiAuthHook(token: string | null) {
  return async function apiAuth(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    // The matched route decides (an encoded or oddly written URL still routes
    // to it); the raw path covers requests that match no route (404s).
    const route = req.routeOptions?.url ?? '';
    const path = req.url.split('?', 1)[0]!.toLowerCase();
    if (!underApi(route) && !underApi(path)) return;
    const r = checkAuth(req, token);
    if (r.ok) return;
    if (r.status === 401) reply.header('www-authenticate', 'Bearer realm="ota-inbound"');
    await reply.code(r.status).send({ error: { code: r.code, message: r.message } });
  };
}
