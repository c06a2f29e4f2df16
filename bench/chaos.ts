/**
 * `npm run chaos`: the fault-injection suite (bench/chaos/scenarios.ts). Each
 * scenario prints what it did and what it checked; the command exits 1 when
 * any check failed, 2 on a bad command line. Scenarios that need root (the
 * tmpfs disk-full one) are skipped with a note when not run as root.
 *
 *   npm run chaos                        every scenario
 *   npm run chaos -- --fast              the CI subset (each well under 30 s)
 *   npm run chaos -- --scenario kill9    one scenario (repeatable)
 *   npm run chaos -- --full              the webhook receiver stays down for minutes
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Recorder, type ChaosContext } from './chaos/lib.ts';
import { CHAOS_SCENARIOS } from './chaos/scenarios.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.basename(path.dirname(HERE)) === 'dist' ? path.resolve(HERE, '../..') : path.resolve(HERE, '..');
const FAST_WEBHOOK_DOWN_MS = 5_000;
const FULL_WEBHOOK_DOWN_MS = 180_000; // "down for minutes"

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        scenario: { type: 'string', multiple: true },
        fast: { type: 'boolean', default: false },
        full: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`chaos: ${(err as Error).message}\n`);
    return 2;
  }
  const names = CHAOS_SCENARIOS.map((s) => s.name);
  if (values.help) {
    process.stdout.write(
      `usage: npm run chaos -- [--fast] [--full] [--scenario NAME ...]\nscenarios: ${names.join(', ')}\n`,
    );
    return 0;
  }
  const unknown = (values.scenario ?? []).filter((n) => !names.includes(n));
  if (unknown.length) {
    process.stderr.write(`chaos: unknown scenario ${unknown.join(', ')}; known: ${names.join(', ')}\n`);
    return 2;
  }
  const selected = CHAOS_SCENARIOS.filter((s) =>
    values.scenario ? values.scenario.includes(s.name) : !values.fast || s.fast,
  );
  const ctx: ChaosContext = {
    root: ROOT,
    raw: readFileSync(path.join(ROOT, 'bench/reservation-iso2022jp.eml')),
    full: values.full,
    webhookDownMs: values.full ? FULL_WEBHOOK_DOWN_MS : FAST_WEBHOOK_DOWN_MS,
    out: (line) => process.stdout.write(`${line}\n`),
  };
  const isRoot = process.getuid?.() === 0;
  const summary: string[] = [];
  let failedChecks = 0;
  for (const s of selected) {
    process.stdout.write(`\n== ${s.name}: ${s.description}\n`);
    if (s.needsRoot && !isRoot) {
      process.stdout.write('   [SKIP] needs root: it mounts a size-limited tmpfs (run as root, as CI does)\n');
      summary.push(`SKIP ${s.name} (needs root)`);
      continue;
    }
    const r = new Recorder(ctx.out);
    const t0 = performance.now();
    try {
      await s.run(ctx, r);
    } catch (err) {
      r.check(
        'scenario ran to the end',
        false,
        (err as Error).stack?.split('\n').slice(0, 3).join(' | ') ?? String(err),
      );
    }
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    failedChecks += r.failed;
    summary.push(
      `${r.failed ? 'FAIL' : 'PASS'} ${s.name} (${r.checks.length - r.failed}/${r.checks.length} checks, ${secs} s)`,
    );
  }
  process.stdout.write(`\n${summary.join('\n')}\n`);
  return failedChecks ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`chaos failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
