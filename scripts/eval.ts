/**
 * `npm run eval`: how well extraction does over a corpus of mails whose
 * expected Extraction sits beside each `.eml` as `.json` (default: the
 * fixture corpus, test/fixtures/). Per site and event: mails, mails fully
 * right, fields right, false bookings (a reservation where there is none),
 * missed bookings; and the generic path's precision (of the mails it turned
 * into `unconfigured-site` reservations, how many really are bookings).
 *
 *   npm run eval                       # Markdown table over test/fixtures
 *   npm run eval -- --dir /path/corpus # any directory of .eml + .json pairs (a held-out set)
 *   npm run eval -- --json             # the same figures as JSON
 *
 * Fields compared: kind, source, event, the eleven reservation fields,
 * changes and reviewReasons; senderDomain too when the extractor emits it
 * (so an older extractor can be measured on the same corpus).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { analyze, loadSiteDefinitions } from '../src/extract/index.ts';
import { SHIPPED_SITES_DIR, PACKAGE_ROOT } from '../src/paths.ts';

const FIELDS = [
  'kind',
  'source',
  'event',
  'reservationId',
  'visitDate',
  'visitTime',
  'partySize',
  'guestName',
  'guestNameKana',
  'phone',
  'course',
  'seats',
  'notes',
  'storeName',
  'changes',
  'reviewReasons',
] as const;

type Json = Record<string, unknown>;

interface Row {
  site: string;
  event: string;
  mails: number;
  fullyRight: number;
  fieldsRight: number;
  fieldsTotal: number;
  falseBookings: number;
  missedBookings: number;
}

function emlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return emlFiles(path);
    return e.name.endsWith('.eml') ? [path] : [];
  });
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function pct(n: number, d: number): string {
  return d === 0 ? '—' : `${((100 * n) / d).toFixed(1)} %`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const dirAt = args.indexOf('--dir');
  const dir = resolve(dirAt !== -1 && args[dirAt + 1] ? args[dirAt + 1]! : join(PACKAGE_ROOT, 'test/fixtures'));
  const sites = loadSiteDefinitions([SHIPPED_SITES_DIR]);
  const rows = new Map<string, Row>();
  const misses: string[] = [];
  let genericEmitted = 0;
  let genericRight = 0;

  for (const file of emlFiles(dir).sort()) {
    let expected: Json;
    try {
      expected = JSON.parse(readFileSync(file.replace(/\.eml$/, '.json'), 'utf8')) as Json;
    } catch {
      continue; // a mail without an expectation is not part of the corpus
    }
    const got = (await analyze(readFileSync(file), sites)).extraction as unknown as Json;
    const site =
      (expected.source as string | null) ??
      (expected.kind === 'reservation'
        ? 'unconfigured'
        : `none (${typeof expected.senderDomain === 'string' ? expected.senderDomain : '?'})`);
    const event = (expected.event as string | null) ?? String(expected.kind);
    const key = `${site}\u0000${event}`;
    const row = rows.get(key) ?? {
      site,
      event,
      mails: 0,
      fullyRight: 0,
      fieldsRight: 0,
      fieldsTotal: 0,
      falseBookings: 0,
      missedBookings: 0,
    };
    rows.set(key, row);
    row.mails++;
    const compared: string[] = [...FIELDS];
    if ('senderDomain' in got) compared.push('senderDomain');
    const wrong = compared.filter((f) => !same(got[f], expected[f]));
    row.fieldsTotal += compared.length;
    row.fieldsRight += compared.length - wrong.length;
    if (wrong.length === 0) row.fullyRight++;
    else misses.push(`${relative(dir, file)}: ${wrong.join(', ')}`);
    if (got.kind === 'reservation' && expected.kind !== 'reservation') row.falseBookings++;
    if (got.kind !== 'reservation' && expected.kind === 'reservation') row.missedBookings++;
    const reasons = Array.isArray(got.reviewReasons) ? (got.reviewReasons as string[]) : [];
    if (got.kind === 'reservation' && reasons.includes('unconfigured-site')) {
      genericEmitted++;
      if (expected.kind === 'reservation' && same(got.reservationId, expected.reservationId)) genericRight++;
    }
  }

  const sorted = [...rows.values()].sort((a, b) => a.site.localeCompare(b.site) || a.event.localeCompare(b.event));
  const total = sorted.reduce(
    (t, r) => ({
      mails: t.mails + r.mails,
      fullyRight: t.fullyRight + r.fullyRight,
      fieldsRight: t.fieldsRight + r.fieldsRight,
      fieldsTotal: t.fieldsTotal + r.fieldsTotal,
      falseBookings: t.falseBookings + r.falseBookings,
      missedBookings: t.missedBookings + r.missedBookings,
    }),
    { mails: 0, fullyRight: 0, fieldsRight: 0, fieldsTotal: 0, falseBookings: 0, missedBookings: 0 },
  );

  if (args.includes('--json')) {
    process.stdout.write(
      JSON.stringify(
        { dir, rows: sorted, total, generic: { emitted: genericEmitted, right: genericRight }, misses },
        null,
        2,
      ) + '\n',
    );
    return;
  }
  const out = [
    `Corpus: ${relative(process.cwd(), dir) || '.'} (${total.mails} mails)`,
    '',
    '| site | event / kind | mails | fully right | fields right | false bookings | missed bookings |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
    ...sorted.map(
      (r) =>
        `| ${r.site} | ${r.event} | ${r.mails} | ${r.fullyRight} | ${pct(r.fieldsRight, r.fieldsTotal)} | ${r.falseBookings} | ${r.missedBookings} |`,
    ),
    `| **all** | | ${total.mails} | ${total.fullyRight} (${pct(total.fullyRight, total.mails)}) | ${pct(total.fieldsRight, total.fieldsTotal)} | ${total.falseBookings} | ${total.missedBookings} |`,
    '',
    `Generic path (unconfigured sites): ${genericEmitted} reservation(s) emitted, ${genericRight} right — precision ${pct(genericRight, genericEmitted)}.`,
  ];
  if (misses.length > 0) out.push('', 'Mails not fully right:', ...misses.map((m) => `- ${m}`));
  process.stdout.write(out.join('\n') + '\n');
}

await main();
