/**
 * The `Received:` trace header (RFC 5321 §4.4) of an accepted message. It is
 * rendered once, when the message is accepted, and kept in the journal
 * envelope (`envelope.received`): the raw bytes stay exactly as the sender
 * sent them (DKIM, forensics, `GET /api/messages/:id/raw`), and whoever hands
 * the message on prepends this line (`ota-inbound spool show ID --trace`).
 * See docs/security.md, "Trace header".
 */
import net from 'node:net';

export interface TraceFacts {
  /** Spool id (the id of the 250 reply). */
  id: string;
  receivedAt: number;
  /** EHLO/HELO argument as the client sent it; null when it sent none. */
  helo: string | null;
  clientIp: string;
  /** Our name (`smtp.hostname`). */
  by: string;
  /** RFC 3848 with-protocol: SMTP, ESMTP, ESMTPS, … */
  protocol: string;
  tls: { protocol: string; cipher: string } | null;
  /** The `for` clause names the recipient only when there is exactly one (as Postfix does: no list of addresses leaks). */
  rcptTo: readonly string[];
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number) => String(n).padStart(2, '0');

/** RFC 5322 date-time in UTC (`Fri, 04 Dec 2026 14:37:43 +0000`). */
export function rfc5322Date(ms: number): string {
  const d = new Date(ms);
  return (
    `${DAYS[d.getUTCDay()]}, ${pad(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`
  );
}

/** Only printable ASCII without spaces, parentheses or brackets survives into the header; anything else is replaced. */
function token(s: string): string {
  return s.replace(/[^\x21-\x27\x2a-\x5a\x5c\x5e-\x7e]/g, '?').slice(0, 255);
}

/** The address literal of the client: `[192.0.2.1]` or `[IPv6:2001:db8::1]`. */
function addressLiteral(ip: string): string {
  return net.isIPv6(ip) ? `[IPv6:${ip}]` : `[${token(ip)}]`;
}

/**
 * One `Received:` header field, folded, ending in CRLF:
 *
 * ```
 * Received: from mx.sender.example ([192.0.2.1])
 * 	by mx.intake.example (ota-inbound) with ESMTPS (TLSv1.3 TLS_AES_256_GCM_SHA384)
 * 	id 0mh3k2x1a-0f3c9e1d2b
 * 	for <sakura@intake.example>; Fri, 04 Dec 2026 14:37:43 +0000
 * ```
 */
export function receivedHeader(f: TraceFacts): string {
  const from = `from ${f.helo ? token(f.helo) : 'unknown'} (${addressLiteral(f.clientIp)})`;
  const tls = f.tls ? ` (${token(f.tls.protocol)} ${token(f.tls.cipher)})` : '';
  const by = `by ${token(f.by)} (ota-inbound) with ${token(f.protocol)}${tls}`;
  const only = f.rcptTo.length === 1 ? f.rcptTo[0]! : null;
  const forClause = only ? `\r\n\tfor <${only.replace(/[^\x21-\x7e]/g, '?').replace(/[<>]/g, '?')}>` : '';
  return `Received: ${from}\r\n\t${by}\r\n\tid ${token(f.id)}${forClause}; ${rfc5322Date(f.receivedAt)}\r\n`;
}
