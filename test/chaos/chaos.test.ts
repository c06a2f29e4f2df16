/**
 * The fast fault-injection scenarios of `npm run chaos`, run by the same code
 * (bench/chaos/scenarios.ts) so CI and operators exercise one suite. Each
 * scenario is one test; its printed "did / [PASS] / [FAIL]" lines are the
 * failure message. Scenarios that mount a tmpfs need root, as CI has.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Recorder, type ChaosContext } from '../../bench/chaos/lib.ts';
import { CHAOS_SCENARIOS } from '../../bench/chaos/scenarios.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const WEBHOOK_DOWN_MS = 3_000;
// Every fast scenario takes well under 30 s on the reference machine; room for a busy CI box.
const SCENARIO_TIMEOUT_MS = 90_000;

describe('chaos (fast scenarios, as in npm run chaos -- --fast)', () => {
  for (const s of CHAOS_SCENARIOS.filter((x) => x.fast)) {
    it(
      `${s.name}: ${s.description}`,
      async () => {
        const lines: string[] = [];
        const ctx: ChaosContext = {
          root: ROOT,
          raw: readFileSync(path.join(ROOT, 'bench/reservation-iso2022jp.eml')),
          full: false,
          webhookDownMs: WEBHOOK_DOWN_MS,
          out: (l) => lines.push(l),
        };
        const r = new Recorder(ctx.out);
        await s.run(ctx, r);
        expect(r.checks.length, 'the scenario checked nothing').toBeGreaterThan(0);
        expect(r.failed, lines.join('\n')).toBe(0);
      },
      SCENARIO_TIMEOUT_MS,
    );
  }
});
