/** Small mechanisms every concern uses: durations and retry backoff. */
export { DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS, WEEK_MS } from './time.ts';
export { NO_JITTER, backoffMs } from './backoff.ts';
