/**
 * What every benchmark scenario shares: the run's settings, the result shape
 * the report prints, and the target helpers. Scenarios live in `bench/run.ts`
 * (ingest) and `bench/scenarios/` (pipeline, big and hostile mail, latency).
 */

/** Settings shared by every scenario in one run. */
export interface Context {
  /** Checkout whose `dist/src/cli/main.js` is measured. */
  root: string;
  /** The standard bench mail in wire form (CRLF, dot-stuffed, terminated). */
  body: Buffer;
  /** The standard bench mail as stored (raw file bytes). */
  raw: Buffer;
  quick: boolean;
  rounds: number;
  messages: number | undefined;
  connections: number | undefined;
  pipelining: boolean;
  /** Where the latency-vs-load chart goes (null: not written). */
  svgFile: string | null;
}

export type Verdict = 'pass' | 'fail' | 'n/a';

export interface TargetResult {
  name: string;
  value: number | null;
  unit: string;
  /** Decimal places worth showing. */
  digits: number;
  target: string;
  verdict: Verdict;
}

export interface ScenarioResult {
  name: string;
  description: string;
  params: Record<string, number | boolean | string>;
  summary: Record<string, number | null>;
  targets: TargetResult[];
  /** Per-round or per-step raw figures (kept in the JSON only). */
  measurements: unknown[];
  problems: string[];
  /** Extra Markdown (e.g. a per-load table) appended under the scenario in the Markdown report. */
  markdown?: string;
}

/** A benchmark scenario; listed in `SCENARIOS` of bench/run.ts. */
export interface Scenario {
  name: string;
  description: string;
  run(ctx: Context): Promise<ScenarioResult>;
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function atLeast(name: string, value: number | null, min: number, unit = '', digits = 2): TargetResult {
  return {
    name,
    value,
    unit,
    digits,
    target: `≥ ${min}${unit ? ' ' + unit : ''}`,
    verdict: value === null ? 'n/a' : value >= min ? 'pass' : 'fail',
  };
}

export function atMost(name: string, value: number | null, max: number, unit = '', digits = 1): TargetResult {
  return {
    name,
    value,
    unit,
    digits,
    target: `≤ ${max}${unit ? ' ' + unit : ''}`,
    verdict: value === null ? 'n/a' : value <= max ? 'pass' : 'fail',
  };
}

/** A yes/no check as a target row (1 = yes). */
export function holds(name: string, ok: boolean | null, what = 'yes'): TargetResult {
  return {
    name,
    value: ok === null ? null : ok ? 1 : 0,
    unit: '',
    digits: 0,
    target: what,
    verdict: ok === null ? 'n/a' : ok ? 'pass' : 'fail',
  };
}

/** Nearest-rank percentile of an unsorted list; null when empty. */
export function percentileOf(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const s = Float64Array.from(values).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

export const LOOPBACK_SOURCES = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`);
export const BENCH_MAIL_FROM = 'yoyaku-noreply@ota.example';
export const BENCH_RCPT_TO = ['sakura-ginza@intake.example'];

/** Report a progress line on stderr (stdout carries the report). */
export function note(line: string): void {
  process.stderr.write(`  ${line}\n`);
}
