/**
 * `npm run build && node dist/bench/stop-idle.js [--idle 3]`: how long the
 * built server takes to exit on SIGTERM while idle SMTP sessions are open
 * (issue 12 item 5: Docker sends SIGKILL 10 s after SIGTERM). Opens the
 * sessions (greeting + EHLO), sends SIGTERM, prints one JSON line with the
 * stop time, the exit and what each idle session was told.
 */
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ReplyReader, type Reply } from './lib/smtp-replies.ts';
import { startOtaInbound } from './lib/server.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.basename(path.dirname(HERE)) === 'dist' ? path.resolve(HERE, '../..') : path.resolve(HERE, '..');

const { values } = parseArgs({ options: { idle: { type: 'string', default: '3' } } });

/** An idle session: greeting and EHLO answered; collects every later reply until the server closes it. */
async function idleSession(port: number): Promise<{ last: () => Reply | null }> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setEncoding('utf8');
  const replies: Reply[] = [];
  let notify: (() => void) | null = null;
  const reader = new ReplyReader(
    (r) => {
      replies.push(r);
      notify?.();
    },
    () => undefined,
  );
  socket.on('data', (d: string) => reader.feed(d));
  socket.on('error', () => undefined);
  const next = (n: number) =>
    new Promise<void>((resolve) => {
      notify = () => replies.length >= n && resolve();
      notify();
    });
  await next(1);
  socket.write('EHLO idle.example\r\n');
  await next(2);
  return { last: () => (replies.length > 2 ? replies.at(-1)! : null) };
}

const ota = await startOtaInbound({ root: ROOT });
const sessions = [];
for (let i = 0; i < Number(values.idle); i++) sessions.push(await idleSession(ota.smtpPort));
const { exit, stopMs } = await ota.stop();
console.log(
  JSON.stringify({
    idleSessions: sessions.length,
    stopMs,
    exit,
    toldIdle: sessions.map((s) => {
      const r = s.last();
      return r ? `${r.code} ${r.text}` : null;
    }),
  }),
);
