/**
 * The invariant under seeded fault schedules (see test/sim/run.ts): a bounded
 * set of generated schedules, then every schedule that once failed, kept in
 * regressions.json as the shrunk schedule `npm run sim` printed. A failure
 * names the seed; `npm run sim -- --seed N --schedules 1` replays and shrinks it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describe as describeSchedule, generate, runSchedule } from './run.ts';
import type { Schedule } from './schedule.ts';

/** Generated schedules per CI run (seeds 1…N); `SIM_SCHEDULES` raises it locally. */
const SCHEDULES = Number(process.env.SIM_SCHEDULES ?? 100);
const regressions = JSON.parse(
  fs.readFileSync(path.join(import.meta.dirname, 'regressions.json'), 'utf8'),
) as (Schedule & { found: string })[];

async function expectInvariant(schedule: Schedule): Promise<void> {
  const r = await runSchedule(schedule);
  expect(r.violations, `seed ${schedule.seed}:\n${describeSchedule(schedule)}`).toEqual([]);
}

describe('fault schedules keep the invariant', () => {
  for (let seed = 1; seed <= SCHEDULES; seed++) it(`seed ${seed}`, () => expectInvariant(generate(seed)));
});

// Kept failing schedules; a suite only when there is one.
if (regressions.length > 0)
  describe('schedules that once broke it', () => {
    for (const r of regressions) it(`seed ${r.seed}: ${r.found}`, () => expectInvariant({ seed: r.seed, ops: r.ops }));
  });
