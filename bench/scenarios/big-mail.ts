/**
 * `big-mail`: a 25 MB reservation with base64 attachments delivered
 * while 20 sessions keep delivering the small bench mail. The small mails'
 * 250 p99 during the big one is compared with the same load just before it,
 * on the same server (the same-run baseline); RSS growth is sampled every
 * 50 ms from /proc.
 */
import { bigMail as buildBigMail } from '../lib/mails.ts';
import { startOtaInbound } from '../lib/server.ts';
import { prepareBody, runSmtpLoad } from '../lib/smtp-load.ts';
import {
  BENCH_MAIL_FROM,
  BENCH_RCPT_TO,
  atMost,
  holds,
  note,
  type Scenario,
  type ScenarioResult,
} from '../lib/types.ts';
import { SETTLED_STATES, non250, rssSampler, smallLoad, waitSettled } from './common.ts';

const BIG_BYTES = 25_000_000; // "25 MB", just under the 25 MiB default limit
const SESSIONS = 20;
const SMALL_RATE = 200; // msgs/s over the 20 sessions, open loop
const MAX_SMALL_P99_MS = 50;
const MAX_RSS_GROWTH_FACTOR = 3;
const SETTLE_CAP_MS = 120_000;

export const BIG_MAIL_LABELS: Record<string, [string, number]> = {
  bigBytes: ['big mail size bytes', 0],
  big250Ms: ['big mail: end of DATA → 250 ms', 0],
  bigPersistedMs: ['big mail: accept → persisted ms', 0],
  smallBaselineP50Ms: ['small mails 250 p50 ms, before (baseline)', 1],
  smallBaselineP99Ms: ['small mails 250 p99 ms, before (baseline)', 1],
  smallDuringP50Ms: ['small mails 250 p50 ms, during the big mail', 1],
  smallDuringP99Ms: ['small mails 250 p99 ms, during the big mail', 1],
  smallDuringAccepted: ['small mails accepted during', 0],
  smallP99Ratio: ['ratio small p99 during / before', 2],
  rssBaselineGrowthMiB: ['RSS growth during the small-only baseline MiB', 0],
  rssBeforeMiB: ['server RSS before MiB', 0],
  rssMaxMiB: ['server RSS max during MiB', 0],
  rssGrowthMiB: ['server RSS growth MiB', 0],
  rssGrowthFactor: ['RSS growth / message size', 2],
};

export const bigMail: Scenario = {
  name: 'big-mail',
  description: `a 25 MB mail with attachments while ${SESSIONS} sessions deliver small mails (open loop, ${SMALL_RATE} msgs/s)`,
  async run(ctx): Promise<ScenarioResult> {
    const problems: string[] = [];
    const big = prepareBody(buildBigMail(ctx.raw, BIG_BYTES));
    const seconds = ctx.quick ? 4 : 10;
    const ota = await startOtaInbound({ root: ctx.root });
    try {
      await smallLoad(ctx, ota.smtpPort, { connections: SESSIONS, ratePerSec: SMALL_RATE, seconds: 2 }); // warm-up
      await ota.waitForDrain(30_000);
      const rssIdle = (await ota.sample()).rssBytes;
      const baseSampler = rssSampler(() => ota.sample());
      const before = await smallLoad(ctx, ota.smtpPort, { connections: SESSIONS, ratePerSec: SMALL_RATE, seconds });
      const rssBaselineMax = await baseSampler.stop();
      await ota.waitForDrain(30_000);
      const rssBefore = (await ota.sample()).rssBytes;
      const sampler = rssSampler(() => ota.sample());
      let bigDone = false;
      const t0 = Date.now();
      const during = smallLoad(ctx, ota.smtpPort, {
        connections: SESSIONS,
        ratePerSec: SMALL_RATE,
        seconds: SETTLE_CAP_MS / 1000,
        stopWhen: () => bigDone && Date.now() - t0 > seconds * 1000,
      });
      const bigReport = await runSmtpLoad({
        host: '127.0.0.1',
        port: ota.smtpPort,
        connections: 1,
        messages: 1,
        maxDurationMs: SETTLE_CAP_MS,
        reuse: true,
        body: big,
        mailFrom: BENCH_MAIL_FROM,
        rcptTo: BENCH_RCPT_TO,
        localAddresses: ['127.0.0.10'],
        replyTimeoutMs: SETTLE_CAP_MS,
      });
      const bigId = bigReport.queueIds[0] ?? null;
      let bigState: string | null = null;
      let bigPersistedMs: number | null = null;
      if (!bigId) problems.push(`big mail not accepted: ${non250(bigReport) ?? 'no queue id'}`);
      else {
        const s = await waitSettled(ota, [bigId], SETTLE_CAP_MS);
        const row = s.rows[0];
        bigState = row?.state ?? null;
        if (row?.processedAt != null) bigPersistedMs = row.processedAt - row.receivedAt;
        if (!s.settled) problems.push(`big mail not settled after ${SETTLE_CAP_MS} ms (state ${String(bigState)})`);
        if (row && row.state === 'dead') problems.push(`big mail dead-lettered: ${row.errorCode}: ${row.error}`);
      }
      bigDone = true;
      const duringReport = await during;
      const rssMax = await sampler.stop();
      await ota.waitForDrain(30_000);
      for (const [what, r] of [
        ['before', before],
        ['during', duringReport],
      ] as const) {
        const bad = non250(r);
        if (bad) problems.push(`small mails ${what}: ${bad}`);
      }
      const growth = Math.max(0, rssMax - rssBefore);
      const summary = {
        bigBytes: big.length - 3,
        big250Ms: bigReport.accepted ? bigReport.latencyMs.p50 : null,
        bigPersistedMs,
        smallBaselineP50Ms: before.latencyMs.p50,
        smallBaselineP99Ms: before.latencyMs.p99,
        smallDuringP50Ms: duringReport.latencyMs.p50,
        smallDuringP99Ms: duringReport.latencyMs.p99,
        smallDuringAccepted: duringReport.accepted,
        smallP99Ratio: before.latencyMs.p99 ? duringReport.latencyMs.p99 / before.latencyMs.p99 : null,
        rssBaselineGrowthMiB: Math.max(0, rssBaselineMax - rssIdle) / 2 ** 20,
        rssBeforeMiB: rssBefore / 2 ** 20,
        rssMaxMiB: rssMax / 2 ** 20,
        rssGrowthMiB: growth / 2 ** 20,
        rssGrowthFactor: growth / (big.length - 3),
      };
      note(
        `big-mail: state ${String(bigState)} after ${String(bigPersistedMs)} ms; small p99 ${before.latencyMs.p99.toFixed(1)} → ${duringReport.latencyMs.p99.toFixed(1)} ms; RSS +${summary.rssGrowthMiB.toFixed(0)} MiB`,
      );
      const { queueIds: _a, ...bigLoad } = bigReport;
      const { queueIds: _b, ...beforeLoad } = before;
      const { queueIds: _c, ...duringLoad } = duringReport;
      return {
        name: this.name,
        description: this.description,
        params: {
          bigBytes: summary.bigBytes,
          sessions: SESSIONS,
          smallRatePerSec: SMALL_RATE,
          baselineSeconds: seconds,
        },
        summary,
        targets: [
          atMost('small mails 250 p99 during the big mail', summary.smallDuringP99Ms, MAX_SMALL_P99_MS, 'ms'),
          atMost('RSS growth / message size', summary.rssGrowthFactor, MAX_RSS_GROWTH_FACTOR, '×', 2),
          holds(
            `big mail ends processed, not dead (state: ${String(bigState)})`,
            bigState === null ? false : SETTLED_STATES.has(bigState) && bigState !== 'dead',
          ),
        ],
        measurements: [{ bigState, big: bigLoad, before: beforeLoad, during: duringLoad }],
        problems,
      };
    } finally {
      const stop = await ota.stop();
      if (stop.exit !== 'code 0') note(`big-mail: server stop ${stop.exit}`);
    }
  },
};
