/**
 * `npm run build && node dist/bench/rss-concurrent.js [--mails 10] [--bytes 24000000] [--env K=V ...]`:
 * the server's resident memory while N concurrent sessions each deliver one
 * big mail (issue 12 item 4: "10 concurrent 24 MB mails"). Starts the built
 * server as an operator would, samples RSS from /proc every 20 ms from just
 * before the first DATA until every mail has settled, and prints one JSON
 * line: idle RSS, peak RSS until the last 250 and until all settled, growth, the growth per byte delivered, the reply
 * codes and how long the mails took to settle.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bigMail } from './lib/mails.ts';
import { metricValue, startOtaInbound } from './lib/server.ts';
import { prepareBody, runSmtpLoad } from './lib/smtp-load.ts';
import { BENCH_MAIL_FROM, BENCH_RCPT_TO } from './lib/types.ts';
import { rssSampler, waitSettled } from './scenarios/common.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.basename(path.dirname(HERE)) === 'dist' ? path.resolve(HERE, '../..') : path.resolve(HERE, '..');
const BENCH_MAIL = path.join(ROOT, 'bench/reservation-iso2022jp.eml');
// A 24 MB mail over loopback on a busy two-core box takes seconds; the caps only bound a hang.
const DELIVERY_CAP_MS = 300_000;
const SETTLE_CAP_MS = 300_000;
const SAMPLE_EVERY_MS = 20;
const MIB = 2 ** 20;

const { values } = parseArgs({
  options: {
    mails: { type: 'string', default: '10' },
    bytes: { type: 'string', default: '24000000' },
    env: { type: 'string', multiple: true, default: [] },
  },
});
const mails = Number(values.mails);
const bytes = Number(values.bytes);
const env = Object.fromEntries(
  values.env.map((kv) => {
    const eq = kv.indexOf('=');
    return [kv.slice(0, eq), kv.slice(eq + 1)];
  }),
);

const body = prepareBody(bigMail(readFileSync(BENCH_MAIL), bytes));
// Spread over loopback addresses: one client address per session, as from real senders.
const sources = Array.from({ length: mails }, (_, i) => `127.0.1.${i + 1}`);
const ota = await startOtaInbound({ root: ROOT, env });
try {
  const idle = await ota.sample();
  const sampler = rssSampler(() => ota.sample(), SAMPLE_EVERY_MS);
  const delivery = rssSampler(() => ota.sample(), SAMPLE_EVERY_MS);
  const t0 = Date.now();
  const report = await runSmtpLoad({
    host: '127.0.0.1',
    port: ota.smtpPort,
    connections: mails,
    messages: mails,
    maxDurationMs: DELIVERY_CAP_MS,
    reuse: true,
    body,
    mailFrom: BENCH_MAIL_FROM,
    rcptTo: BENCH_RCPT_TO,
    localAddresses: sources,
    replyTimeoutMs: DELIVERY_CAP_MS,
  });
  const deliveredMs = Date.now() - t0;
  const deliveryPeak = await delivery.stop();
  const m = await ota.metrics();
  const metric = (name: string) => Math.round((metricValue(m, name) ?? 0) / MIB);
  const atLast250 = {
    externalMiB: metric('ota_inbound_nodejs_external_memory_bytes'),
    heapUsedMiB: metric('ota_inbound_nodejs_heap_size_used_bytes'),
    smtpBufferedMiB: metric('ota_inbound_smtp_data_buffered_bytes'),
  };
  const ids = report.queueIds.filter((id): id is string => id !== null);
  const settled = await waitSettled(ota, ids, SETTLE_CAP_MS);
  const peak = await sampler.stop();
  const after = await ota.sample();
  console.log(
    JSON.stringify({
      mails,
      mailBytes: body.length - 3,
      env,
      codes: report.codes,
      errors: report.errors,
      deliveredMs,
      settledMs: Date.now() - t0,
      settled: settled.settled,
      states: settled.rows.map((r) => r.state),
      rssIdleMiB: Math.round(idle.rssBytes / MIB),
      rssPeakDeliveryMiB: Math.round(deliveryPeak / MIB),
      rssPeakMiB: Math.round(peak / MIB),
      atLast250,
      rssGrowthMiB: Math.round((peak - idle.rssBytes) / MIB),
      vmHwmMiB: Math.round(after.peakRssBytes / MIB),
      growthPerAcceptedByte: ids.length
        ? +((peak - idle.rssBytes) / (ids.length * (body.length - 3))).toFixed(2)
        : null,
    }),
  );
} finally {
  await ota.stop();
}
