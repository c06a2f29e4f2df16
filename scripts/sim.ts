/**
 * npm run sim -- --seed N --schedules K [--no-shrink]
 *
 * Runs K seeded fault schedules (seeds N, N+1, …) against a real node (see
 * test/sim/) and checks the invariant after each. A failing seed is shrunk to
 * the shortest schedule that still fails and printed as JSON, ready to be kept
 * as a regression case in test/sim/regressions.json. Exit code 1 on any violation.
 */
import { parseArgs } from 'node:util';
import { describe, runAndShrink } from '../test/sim/run.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    schedules: { type: 'string', default: '100' },
    'no-shrink': { type: 'boolean', default: false },
  },
});
const first = Number(values.seed);
const count = Number(values.schedules);
if (!Number.isInteger(first) || !Number.isInteger(count) || count < 1) {
  console.error('usage: npm run sim -- --seed N --schedules K [--no-shrink]');
  process.exit(2);
}

const started = Date.now();
let done = 0;
let failed = 0;
let acked = 0;
let crashes = 0;
let faults = 0;
const summary = () =>
  `\n${done} schedules (seeds ${first}–${first + done - 1}) in ${((Date.now() - started) / 1000).toFixed(1)} s: ` +
  `${acked} mails acknowledged, ${crashes} crashes, ${faults} injected I/O faults; ` +
  `${failed} schedule(s) violated the invariant`;
// A long run stopped early (Ctrl-C, a time limit) still reports what it covered.
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    console.log(`${summary()} (stopped by ${signal}; the rest of the seeds were not run)`);
    process.exit(failed > 0 ? 1 : 130);
  });
for (let seed = first; seed < first + count; seed++) {
  const r = await runAndShrink(seed, {
    shrink: !values['no-shrink'],
    log: (s) => console.error(`  seed ${seed}: ${s}`),
  });
  done += 1;
  acked += r.acked;
  crashes += r.crashes;
  faults += r.faults;
  if (r.violations.length > 0) {
    failed += 1;
    console.log(`\nseed ${seed}: ${r.violations.length} violation(s)`);
    for (const v of r.violations) console.log(`  - ${v}`);
    console.log(
      `  shortest failing schedule (${r.schedule.ops.length} steps):\n${describe(r.schedule).replace(/^/gm, '    ')}`,
    );
    console.log(`  regression case: ${JSON.stringify(r.schedule)}`);
  }
  if ((seed - first + 1) % 50 === 0)
    console.error(
      `${seed - first + 1}/${count} schedules, ${failed} failing, ${Math.round((Date.now() - started) / 1000)} s`,
    );
}
console.log(summary());
process.exit(failed > 0 ? 1 : 0);
