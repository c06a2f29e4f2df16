/** Durations in milliseconds, the unit every clock and timestamp in the service uses. */

/** One second in ms. */
export const SECOND_MS = 1_000;
/** One minute in ms. */
export const MINUTE_MS = 60 * SECOND_MS;
/** One hour in ms. */
export const HOUR_MS = 60 * MINUTE_MS;
/** One day in ms (UTC days: no daylight-saving shifts in timestamps). */
export const DAY_MS = 24 * HOUR_MS;
/** One week in ms. */
export const WEEK_MS = 7 * DAY_MS;
