/**
 * Webhook signatures, Stripe style: `X-OTA-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>]`
 * where each v1 is HMAC-SHA256(secret, `${t}.${body}`). During a secret
 * rotation every request carries one v1 per secret, so a receiver holding
 * either accepts it (docs/webhooks.md).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_SCHEME = 'v1';
/** Receivers should refuse signatures older than this (replay protection); the default of {@link verifySignature}. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** Hex HMAC-SHA256 of `${timestamp}.${body}`. */
export function computeSignature(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

/** The `X-OTA-Signature` header value for a body, signed with every given secret (current first). */
export function signatureHeader(secrets: readonly string[], timestamp: number, body: string): string {
  return [`t=${timestamp}`, ...secrets.map((s) => `${SIGNATURE_SCHEME}=${computeSignature(s, timestamp, body)}`)].join(
    ',',
  );
}

/** Splits a signature header into its timestamp and v1 signatures. */
export function parseSignatureHeader(header: string): { timestamp: number | null; signatures: string[] } {
  let timestamp: number | null = null;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (k === 't' && /^\d+$/.test(v)) timestamp = Number(v);
    else if (k === SIGNATURE_SCHEME && /^[0-9a-f]{64}$/.test(v)) signatures.push(v);
  }
  return { timestamp, signatures };
}

/**
 * Receiver-side check (also what the tests use): true when one of the
 * header's v1 signatures matches the body under `secret` and the timestamp is
 * within `toleranceSeconds` of `now` (ms).
 */
export function verifySignature(opts: {
  header: string;
  body: string;
  secret: string;
  now?: number;
  toleranceSeconds?: number;
}): boolean {
  const { timestamp, signatures } = parseSignatureHeader(opts.header);
  if (timestamp === null || signatures.length === 0) return false;
  const now = Math.floor((opts.now ?? Date.now()) / 1000);
  if (Math.abs(now - timestamp) > (opts.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) return false;
  const expected = Buffer.from(computeSignature(opts.secret, timestamp, opts.body), 'hex');
  return signatures.some((s) => timingSafeEqual(Buffer.from(s, 'hex'), expected));
}
