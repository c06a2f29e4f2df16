/**
 * `hostile`: three mails built to hurt a MIME parser — 2,000-deep
 * multipart nesting, a 1 MB header section, a 10 MB single-line HTML body —
 * delivered to a server with a 5 s parse timeout and one attempt. Each must
 * end in a terminal state with its reason within the parse timeout (plus a
 * little for the batch commit), the workers must keep working, and small
 * deliveries running meanwhile must keep their latency (the event loop is not
 * blocked). The baseline is the same small load just before, same server.
 *
 * The header limit is raised for this scenario (`OTA_INBOUND_SMTP_MAX_HEADER_BYTES`
 * = 4 MiB): with the default of 256 KiB the 1 MB header is refused at SMTP
 * with 552 5.3.4 and never reaches the parser, which is the point of the limit.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { deepNestingMail, hugeHeaderMail, singleLineHtmlMail } from '../lib/mails.ts';
import { metricValue, startOtaInbound } from '../lib/server.ts';
import { prepareBody, runSmtpLoad } from '../lib/smtp-load.ts';
import { BENCH_RCPT_TO, atMost, holds, note, type Scenario, type ScenarioResult } from '../lib/types.ts';
import { non250, smallLoad, waitSettled } from './common.ts';

const PARSE_TIMEOUT_MS = 5_000;
// The outcome is committed in the next batch after the worker gives up.
const SETTLE_SLACK_MS = 2_000;
const SMALL_RATE = 50;
const SMALL_SESSIONS = 10;
const MAX_SMALL_P99_MS = 50;
const PROBE_MESSAGES = 20;
const SCRAPE_EVERY_MS = 250;

export const HOSTILE_LABELS: Record<string, [string, number]> = {
  hostileSettledMaxMs: ['slowest hostile mail: accept → terminal state ms', 0],
  hostileDead: ['hostile mails dead-lettered with a reason', 0],
  hostileHandled: ['hostile mails settled otherwise (parsed in time)', 0],
  hostileSmallBaselineP99Ms: ['small mails 250 p99 ms, before (baseline)', 1],
  hostileSmallDuringP99Ms: ['small mails 250 p99 ms, during the hostile mails', 1],
  hostileSmallDuringMaxMs: ['small mails 250 max ms, during', 1],
  hostileSmallP99Ratio: ['ratio small p99 during / before', 2],
  eventLoopLagP99MaxMs: ['server event-loop lag p99, max seen ms', 1],
  metricsScrapeMaxMs: ['slowest /metrics answer during ms', 0],
  probeProcessed: ['normal mails processed after the hostile ones', 0],
};

interface HostileOutcome {
  name: string;
  bytes: number;
  reply: string;
  id: string | null;
  state: string | null;
  errorCode: string | null;
  error: string | null;
  settledMs: number | null;
}

export const hostile: Scenario = {
  name: 'hostile',
  description:
    '2,000-deep nesting, a 1 MB header and a 10 MB single-line HTML mail, with small deliveries running (parse timeout 5 s, 1 attempt)',
  async run(ctx): Promise<ScenarioResult> {
    const problems: string[] = [];
    const mails = [
      { name: 'nesting-2000', raw: deepNestingMail(2_000) },
      { name: 'header-1MB', raw: hugeHeaderMail(1024 * 1024) },
      { name: 'html-10MB-one-line', raw: singleLineHtmlMail(10 * 1024 * 1024) },
    ];
    const ota = await startOtaInbound({
      root: ctx.root,
      env: {
        OTA_INBOUND_PIPELINE_PARSE_TIMEOUT_MS: String(PARSE_TIMEOUT_MS),
        OTA_INBOUND_PIPELINE_MAX_ATTEMPTS: '1',
        OTA_INBOUND_SMTP_MAX_HEADER_BYTES: String(4 * 1024 * 1024),
      },
    });
    try {
      const seconds = ctx.quick ? 4 : 8;
      await smallLoad(ctx, ota.smtpPort, { connections: SMALL_SESSIONS, ratePerSec: SMALL_RATE, seconds: 2 });
      await ota.waitForDrain(30_000);
      const before = await smallLoad(ctx, ota.smtpPort, {
        connections: SMALL_SESSIONS,
        ratePerSec: SMALL_RATE,
        seconds,
      });
      await ota.waitForDrain(30_000);

      let done = false;
      let lagMax = 0;
      let scrapeMax = 0;
      const scraper = (async () => {
        while (!done) {
          const t = performance.now();
          try {
            const text = await ota.metrics();
            scrapeMax = Math.max(scrapeMax, performance.now() - t);
            lagMax = Math.max(lagMax, (metricValue(text, 'ota_inbound_nodejs_eventloop_lag_p99_seconds') ?? 0) * 1000);
          } catch {
            scrapeMax = Math.max(scrapeMax, performance.now() - t);
          }
          await sleep(SCRAPE_EVERY_MS);
        }
      })();
      const t0 = Date.now();
      const during = smallLoad(ctx, ota.smtpPort, {
        connections: SMALL_SESSIONS,
        ratePerSec: SMALL_RATE,
        seconds: 120,
        stopWhen: () => done && Date.now() - t0 > seconds * 1000,
      });
      const outcomes: HostileOutcome[] = await Promise.all(
        mails.map(async (m, i): Promise<HostileOutcome> => {
          const r = await runSmtpLoad({
            host: '127.0.0.1',
            port: ota.smtpPort,
            connections: 1,
            messages: 1,
            maxDurationMs: 60_000,
            reuse: true,
            body: prepareBody(m.raw),
            uniqueMessageIds: false,
            mailFrom: 'attacker@hostile.example',
            rcptTo: BENCH_RCPT_TO,
            localAddresses: [`127.0.0.${20 + i}`],
            replyTimeoutMs: 60_000,
          });
          const id = r.queueIds[0] ?? null;
          const reply =
            Object.keys(r.codes).join(',') +
            (Object.keys(r.errors).length ? ` (${Object.keys(r.errors).join(',')})` : '');
          if (!id)
            return {
              name: m.name,
              bytes: m.raw.length,
              reply,
              id,
              state: null,
              errorCode: null,
              error: null,
              settledMs: null,
            };
          const s = await waitSettled(ota, [id], PARSE_TIMEOUT_MS * 4);
          const row = s.rows[0];
          return {
            name: m.name,
            bytes: m.raw.length,
            reply,
            id,
            state: row?.state ?? null,
            errorCode: row?.errorCode ?? null,
            error: row?.error ?? null,
            settledMs: s.settled && row?.processedAt != null ? row.processedAt - row.receivedAt : null,
          };
        }),
      );
      done = true;
      const duringReport = await during;
      await scraper;
      // Workers still work: a few normal mails after the hostile ones.
      const probe = await smallLoad(ctx, ota.smtpPort, {
        connections: 2,
        ratePerSec: 20,
        seconds: PROBE_MESSAGES / 20,
      });
      const probeIds = probe.queueIds.filter((x): x is string => x !== null);
      const probeSettled = await waitSettled(ota, probeIds, 30_000);
      // The bench mail has no DKIM signature: a correct extraction ends in `review`.
      const probeProcessed = probeSettled.rows.filter((r) => r.state === 'processed' || r.state === 'review').length;
      for (const o of outcomes) {
        note(
          `hostile ${o.name} (${o.bytes} bytes): reply ${o.reply}, state ${String(o.state)} ${o.errorCode ?? ''} after ${String(o.settledMs)} ms${o.error ? ` — ${o.error.slice(0, 100)}` : ''}`,
        );
        if (!o.id) problems.push(`${o.name}: not accepted (reply ${o.reply})`);
        else if (o.settledMs === null)
          problems.push(`${o.name}: not settled within ${PARSE_TIMEOUT_MS * 4} ms (state ${String(o.state)})`);
      }
      for (const [what, r] of [
        ['before', before],
        ['during', duringReport],
        ['probe', probe],
      ] as const) {
        const bad = non250(r);
        if (bad) problems.push(`small mails ${what}: ${bad}`);
      }
      const settledTimes = outcomes.map((o) => o.settledMs);
      const allSettled = settledTimes.every((t) => t !== null);
      const summary = {
        hostileSettledMaxMs: allSettled ? Math.max(...settledTimes) : null,
        hostileDead: outcomes.filter((o) => o.state === 'dead' && o.errorCode).length,
        hostileHandled: outcomes.filter((o) => o.state !== null && o.state !== 'dead').length,
        hostileSmallBaselineP99Ms: before.latencyMs.p99,
        hostileSmallDuringP99Ms: duringReport.latencyMs.p99,
        hostileSmallDuringMaxMs: duringReport.latencyMs.max,
        hostileSmallP99Ratio: before.latencyMs.p99 ? duringReport.latencyMs.p99 / before.latencyMs.p99 : null,
        eventLoopLagP99MaxMs: lagMax,
        metricsScrapeMaxMs: scrapeMax,
        probeProcessed,
      };
      const table = [
        '| mail | bytes | SMTP reply | final state | reason | accept → state ms |',
        '| --- | ---: | --- | --- | --- | ---: |',
        ...outcomes.map(
          (o) =>
            `| ${o.name} | ${o.bytes} | ${o.reply} | ${o.state ?? '-'} | ${o.errorCode ?? '-'} | ${o.settledMs ?? '-'} |`,
        ),
      ].join('\n');
      return {
        name: this.name,
        description: this.description,
        params: {
          parseTimeoutMs: PARSE_TIMEOUT_MS,
          maxAttempts: 1,
          smallRatePerSec: SMALL_RATE,
          smallSessions: SMALL_SESSIONS,
        },
        summary,
        targets: [
          atMost(
            'slowest hostile mail settled (accept → terminal state)',
            summary.hostileSettledMaxMs,
            PARSE_TIMEOUT_MS + SETTLE_SLACK_MS,
            'ms',
            0,
          ),
          holds(
            'every hostile mail settles (terminal state, no hung worker)',
            outcomes.every((o) => o.settledMs !== null),
          ),
          holds(
            `every hostile mail ends failed/dead with a coded reason (${outcomes.map((o) => `${o.name}: ${o.state ?? '-'}`).join(', ')})`,
            outcomes.every((o) => o.state === 'dead' && !!o.errorCode),
          ),
          atMost('small mails 250 p99 during', summary.hostileSmallDuringP99Ms, MAX_SMALL_P99_MS, 'ms'),
          holds(
            `workers still process normal mail afterwards (${probeProcessed}/${probeIds.length})`,
            probeIds.length > 0 && probeProcessed === probeIds.length,
          ),
        ],
        measurements: [{ outcomes }],
        problems,
        markdown: table,
      };
    } finally {
      await ota.stop();
    }
  },
};
