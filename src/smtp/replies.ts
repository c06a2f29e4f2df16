/**
 * Every SMTP refusal or acknowledgement ota-inbound sends, as data: the reply
 * code, the RFC 3463 enhanced status code and a sentence a sender's postmaster
 * can act on. Handlers name an outcome; they never write reply numbers.
 *
 * smtp-server's own enhanced codes are switched off (it derives them from the
 * reply number alone, e.g. 5.1.1 for every 550), so the enhanced code is part
 * of the text here.
 */
export const REPLIES = {
  accepted: { code: 250, enhanced: '2.0.0', text: 'Ok: queued as {id}' },
  relayDenied: {
    code: 550,
    enhanced: '5.7.1',
    text: 'Relaying denied: this server only accepts mail for its intake domains, not {domain}',
  },
  unknownRecipient: { code: 550, enhanced: '5.1.1', text: 'No such intake address: {address}' },
  // RFC 3463 5.1.6 "destination mailbox has moved, no forwarding address": a revoked store, or an address rotated out.
  inactiveAddress: {
    code: 550,
    enhanced: '5.1.6',
    text: 'Intake address {address} is no longer in use; ask the restaurant for its current forwarding address',
  },
  badRecipient: { code: 501, enhanced: '5.1.3', text: 'Bad recipient address syntax' },
  tooManyRecipients: {
    code: 452,
    enhanced: '4.5.3',
    text: 'Too many recipients: at most {max} per message, send the rest in another transaction',
  },
  messageTooBig: {
    code: 552,
    enhanced: '5.3.4',
    text: 'Message too big: {size} bytes exceeds the limit of {max} bytes',
  },
  insufficientStorage: { code: 452, enhanced: '4.3.1', text: 'Insufficient system storage, try again later' },
  localError: { code: 451, enhanced: '4.3.0', text: 'Local error in processing, try again later' },
  tooManyConnections: { code: 421, enhanced: '4.7.0', text: 'Too many connections, try again later' },
  tooManyConnectionsFromIp: {
    code: 421,
    enhanced: '4.7.0',
    text: 'Too many connections from your address, try again later',
  },
  shuttingDown: { code: 421, enhanced: '4.3.2', text: 'Service shutting down, try again later' },
  // Abuse limits (src/smtp/abuse.ts, docs/security.md). Temporary on purpose: a
  // real MTA behind a shared address retries later; a flood just stays refused.
  connectionRate: {
    code: 421,
    enhanced: '4.7.0',
    text: 'Too many connections from your address in a short time, try again in {seconds} seconds',
  },
  messageRate: {
    code: 450,
    enhanced: '4.7.1',
    text: 'Too much mail from your address in a short time, try again in {seconds} seconds',
  },
  tooManyErrors: { code: 421, enhanced: '4.7.0', text: 'Too many errors in this session, closing the connection' },
  coolingOff: {
    code: 421,
    enhanced: '4.7.0',
    text: 'Your address broke the limits of this server repeatedly and is refused for {seconds} more seconds',
  },
  headerTooBig: {
    code: 552,
    enhanced: '5.3.4',
    text: 'Message header too big: more than {max} bytes before the first blank line',
  },
  // Bounded resources (issue 12; docs/security.md "Resource limits").
  declaredTooBig: {
    code: 552,
    enhanced: '5.3.4',
    text: 'Message too big: the declared SIZE={size} exceeds the limit of {max} bytes',
  },
  dataMemoryBusy: {
    code: 452,
    enhanced: '4.3.1',
    text: 'Too many large messages are being received at once, not enough memory for this one now: try again later',
  },
  preMailTimeout: {
    code: 421,
    enhanced: '4.4.2',
    text: 'No MAIL FROM within {seconds} seconds of connecting, closing the connection',
  },
  evicted: {
    code: 421,
    enhanced: '4.4.5',
    text: 'All connection slots are taken: closing this connection, which has not started a transaction, to make room for another sender',
  },
  dataTimeout: {
    code: 421,
    enhanced: '4.4.2',
    text: 'The message took longer than {seconds} seconds to transfer and was not accepted, closing the connection',
  },
} as const satisfies Record<string, { code: number; enhanced: string; text: string }>;

export type ReplyName = keyof typeof REPLIES;

/** The reply text (enhanced code + sentence) with `{placeholders}` filled. */
export function replyText(name: ReplyName, vars: Record<string, string | number> = {}): string {
  const r = REPLIES[name];
  return `${r.enhanced} ${r.text.replace(/\{(\w+)\}/g, (_, k: string) => String(vars[k] ?? ''))}`;
}

/** An error smtp-server turns into this reply (it reads `responseCode`). */
export function replyError(
  name: ReplyName,
  vars: Record<string, string | number> = {},
): Error & { responseCode: number; reply: ReplyName } {
  return Object.assign(new Error(replyText(name, vars)), { responseCode: REPLIES[name].code, reply: name });
}
