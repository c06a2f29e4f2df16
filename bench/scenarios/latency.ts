/**
 * `latency-vs-load`: accept → persisted latency at fixed offered
 * loads (open loop, so a server that falls behind shows it as latency), with
 * the 250 latency of ota-inbound and of the no-op sink at the same loads as
 * the same-run reference. Writes a hand-made SVG chart (no dependency).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startOtaInbound } from '../lib/server.ts';
import { spawnSink } from '../lib/sink.ts';
import { runSmtpLoad, type LoadReport } from '../lib/smtp-load.ts';
import {
  BENCH_MAIL_FROM,
  BENCH_RCPT_TO,
  LOOPBACK_SOURCES,
  atMost,
  note,
  percentileOf,
  type Context,
  type Scenario,
  type ScenarioResult,
} from '../lib/types.ts';
import { non250 } from './common.ts';

const LEVELS = [50, 200, 500] as const; // offered msgs/s
const CONNECTIONS = 32;
const SECONDS = 20;
const QUICK_SECONDS = 5;
const MAX_PERSISTED_P99_AT_50_MS = 1_000; // the live-mail target (docs/benchmarks.md)

export interface LevelFigures {
  offered: number;
  achieved: number;
  accepted: number;
  sink250P50Ms: number;
  sink250P99Ms: number;
  ota250P50Ms: number;
  ota250P99Ms: number;
  ota250P999Ms: number;
  persistedP50Ms: number | null;
  persistedP99Ms: number | null;
  persistedP999Ms: number | null;
  persistedMaxMs: number | null;
  missing: number;
  rssMiB: number;
  openFds: number;
  backlogAtEnd: number | null;
}

export const LATENCY_LABELS: Record<string, [string, number]> = Object.fromEntries(
  LEVELS.flatMap((l) => [
    [`persistedP50Ms@${l}`, [`${l} msgs/s: accept→persisted p50 ms`, 0]],
    [`persistedP99Ms@${l}`, [`${l} msgs/s: accept→persisted p99 ms`, 0]],
    [`persistedP999Ms@${l}`, [`${l} msgs/s: accept→persisted p99.9 ms`, 0]],
    [`ota250P99Ms@${l}`, [`${l} msgs/s: ota-inbound 250 p99 ms`, 1]],
    [`sink250P99Ms@${l}`, [`${l} msgs/s: sink 250 p99 ms`, 1]],
    [`rssMiB@${l}`, [`${l} msgs/s: server RSS MiB`, 0]],
    [`openFds@${l}`, [`${l} msgs/s: server open fds`, 0]],
  ]),
);

function load(ctx: Context, port: number, rate: number, seconds: number): Promise<LoadReport> {
  return runSmtpLoad({
    host: '127.0.0.1',
    port,
    connections: CONNECTIONS,
    messages: rate * seconds,
    maxDurationMs: seconds * 1000 + 30_000,
    reuse: true,
    ratePerSec: rate,
    body: ctx.body,
    mailFrom: BENCH_MAIL_FROM,
    rcptTo: BENCH_RCPT_TO,
    localAddresses: LOOPBACK_SOURCES,
  });
}

export const latencyVsLoad: Scenario = {
  name: 'latency-vs-load',
  description: `accept→persisted p50/p99/p99.9 at offered loads of ${LEVELS.join(', ')} msgs/s (open loop, ${CONNECTIONS} reused sessions), sink 250 latency at the same loads`,
  async run(ctx): Promise<ScenarioResult> {
    const seconds = ctx.quick ? QUICK_SECONDS : SECONDS;
    const problems: string[] = [];
    const sinkFigures = new Map<number, LoadReport>();
    const sink = await spawnSink();
    try {
      await load(ctx, sink.port, 200, 2);
      for (const rate of LEVELS) sinkFigures.set(rate, await load(ctx, sink.port, rate, seconds));
    } finally {
      await sink.stop();
    }
    const levels: LevelFigures[] = [];
    const ota = await startOtaInbound({ root: ctx.root });
    try {
      await load(ctx, ota.smtpPort, 200, 2);
      await ota.waitForDrain(30_000);
      for (const rate of LEVELS) {
        const r = await load(ctx, ota.smtpPort, rate, seconds);
        const backlog = await ota.pending().catch(() => null);
        const d = await ota.waitForDrain(120_000, 100);
        if (d.drainedMs === null) problems.push(`${rate} msgs/s: backlog did not drain`);
        const proc = await ota.sample();
        const ids = r.queueIds.filter((x): x is string => x !== null);
        const rows = ota.rows(ids);
        const lat = rows.filter((x) => x.processedAt !== null).map((x) => x.processedAt! - x.receivedAt);
        const bad = non250(r);
        if (bad) problems.push(`${rate} msgs/s: ${bad}`);
        const s = sinkFigures.get(rate)!;
        const f: LevelFigures = {
          offered: rate,
          achieved: r.msgsPerSec,
          accepted: r.accepted,
          sink250P50Ms: s.latencyMs.p50,
          sink250P99Ms: s.latencyMs.p99,
          ota250P50Ms: r.latencyMs.p50,
          ota250P99Ms: r.latencyMs.p99,
          ota250P999Ms: r.latencyMs.p999,
          persistedP50Ms: percentileOf(lat, 0.5),
          persistedP99Ms: percentileOf(lat, 0.99),
          persistedP999Ms: percentileOf(lat, 0.999),
          persistedMaxMs: lat.length ? Math.max(...lat) : null,
          missing: ids.length - lat.length,
          rssMiB: proc.rssBytes / 2 ** 20,
          openFds: proc.openFds,
          backlogAtEnd: backlog,
        };
        if (f.missing) problems.push(`${rate} msgs/s: ${f.missing} accepted ids not persisted`);
        levels.push(f);
        note(
          `latency-vs-load ${rate}/s: achieved ${f.achieved.toFixed(0)}, 250 p99 ${f.ota250P99Ms.toFixed(1)} ms (sink ${f.sink250P99Ms.toFixed(1)}), persisted p50/p99/p99.9 ${f.persistedP50Ms}/${f.persistedP99Ms}/${f.persistedP999Ms} ms, RSS ${f.rssMiB.toFixed(0)} MiB, fds ${f.openFds}`,
        );
      }
    } finally {
      await ota.stop();
    }
    const summary: Record<string, number | null> = {};
    for (const f of levels) {
      summary[`persistedP50Ms@${f.offered}`] = f.persistedP50Ms;
      summary[`persistedP99Ms@${f.offered}`] = f.persistedP99Ms;
      summary[`persistedP999Ms@${f.offered}`] = f.persistedP999Ms;
      summary[`ota250P99Ms@${f.offered}`] = f.ota250P99Ms;
      summary[`sink250P99Ms@${f.offered}`] = f.sink250P99Ms;
      summary[`rssMiB@${f.offered}`] = f.rssMiB;
      summary[`openFds@${f.offered}`] = f.openFds;
    }
    if (ctx.svgFile && levels.length) {
      await mkdir(path.dirname(ctx.svgFile), { recursive: true });
      await writeFile(ctx.svgFile, latencyChart(levels, new Date().toISOString().slice(0, 10)));
      note(`wrote ${ctx.svgFile}`);
    }
    const fmt = (v: number | null, d = 0): string => (v === null ? '-' : v.toFixed(d));
    const table = [
      '| offered msgs/s | achieved | sink 250 p99 ms | ota 250 p50 / p99 ms | accept→persisted p50 / p99 / p99.9 / max ms | RSS MiB | fds |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...levels.map(
        (f) =>
          `| ${f.offered} | ${fmt(f.achieved)} | ${fmt(f.sink250P99Ms, 1)} | ${fmt(f.ota250P50Ms, 1)} / ${fmt(f.ota250P99Ms, 1)} | ${fmt(f.persistedP50Ms)} / ${fmt(f.persistedP99Ms)} / ${fmt(f.persistedP999Ms)} / ${fmt(f.persistedMaxMs)} | ${fmt(f.rssMiB)} | ${f.openFds} |`,
      ),
    ].join('\n');
    return {
      name: this.name,
      description: this.description,
      params: { connections: CONNECTIONS, secondsPerLevel: seconds, levels: LEVELS.join(',') },
      summary,
      targets: [
        atMost(
          'accept→persisted p99 at 50 msgs/s',
          levels.find((l) => l.offered === 50)?.persistedP99Ms ?? null,
          MAX_PERSISTED_P99_AT_50_MS,
          'ms',
          0,
        ),
      ],
      measurements: levels,
      problems,
      markdown: table,
    };
  },
};

/** A small log-scale line chart: latency (ms) against offered load, one line per percentile. */
export function latencyChart(levels: readonly LevelFigures[], date: string): string {
  const W = 640;
  const H = 400;
  const m = { l: 64, r: 200, t: 40, b: 56 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const series: { name: string; color: string; dash?: string; pick: (f: LevelFigures) => number | null }[] = [
    { name: 'accept→persisted p50', color: '#1b9e77', pick: (f) => f.persistedP50Ms },
    { name: 'accept→persisted p99', color: '#d95f02', pick: (f) => f.persistedP99Ms },
    { name: 'accept→persisted p99.9', color: '#7570b3', pick: (f) => f.persistedP999Ms },
    { name: '250 reply p99', color: '#e7298a', dash: '6 3', pick: (f) => f.ota250P99Ms },
    { name: 'no-op sink 250 p99', color: '#666666', dash: '2 3', pick: (f) => f.sink250P99Ms },
  ];
  const values = levels.flatMap((f) => series.map((s) => s.pick(f))).filter((v): v is number => v !== null && v > 0);
  const lo = Math.pow(10, Math.floor(Math.log10(Math.max(0.1, Math.min(...values)))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...values, lo * 10))));
  const y = (v: number): number =>
    m.t + ph - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * ph;
  const maxLoad = Math.max(...levels.map((f) => f.offered));
  const x = (load: number): number => m.l + (load / maxLoad) * pw;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${m.l}" y="22" font-size="14" font-weight="bold">ota-inbound latency against offered load (${date})</text>`,
  ];
  for (let d = lo; d <= hi; d *= 10) {
    out.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${y(d).toFixed(1)}" y2="${y(d).toFixed(1)}" stroke="#dddddd"/>`);
    out.push(
      `<text x="${m.l - 6}" y="${(y(d) + 4).toFixed(1)}" text-anchor="end">${d >= 1000 ? `${d / 1000} s` : `${d} ms`}</text>`,
    );
  }
  for (const f of levels) {
    out.push(
      `<line x1="${x(f.offered).toFixed(1)}" x2="${x(f.offered).toFixed(1)}" y1="${m.t}" y2="${m.t + ph}" stroke="#eeeeee"/>`,
    );
    out.push(`<text x="${x(f.offered).toFixed(1)}" y="${m.t + ph + 18}" text-anchor="middle">${f.offered}</text>`);
  }
  out.push(`<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${m.t + ph}" stroke="#000000"/>`);
  out.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${m.t + ph}" y2="${m.t + ph}" stroke="#000000"/>`);
  out.push(`<text x="${m.l + pw / 2}" y="${H - 14}" text-anchor="middle">offered load (messages/s, open loop)</text>`);
  out.push(
    `<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">latency (log scale)</text>`,
  );
  series.forEach((s, i) => {
    const pts = levels
      .map((f) => [f.offered, s.pick(f)] as const)
      .filter((p): p is readonly [number, number] => p[1] !== null);
    if (pts.length) {
      out.push(
        `<polyline fill="none" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''} points="${pts.map(([l, v]) => `${x(l).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>`,
      );
      for (const [l, v] of pts)
        out.push(`<circle cx="${x(l).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${s.color}"/>`);
    }
    const ly = m.t + 10 + i * 20;
    out.push(
      `<line x1="${m.l + pw + 16}" x2="${m.l + pw + 40}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`,
    );
    out.push(`<text x="${m.l + pw + 46}" y="${ly + 4}">${s.name}</text>`);
  });
  out.push('</svg>', '');
  return out.join('\n');
}
