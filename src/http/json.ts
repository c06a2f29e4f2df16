/** Small helpers shared by the API and dashboard routes for turning rows into JSON. */

/** Milliseconds since the epoch → ISO 8601, keeping null. */
export const iso = (ms: number | null | undefined): string | null =>
  ms === null || ms === undefined ? null : new Date(ms).toISOString();

/** A JSON column's value, or null when it is NULL or unreadable. */
export function parseJson<T>(s: string | null): T | null {
  if (s === null) return null;
  try {
    return JSON.parse(s) as T;
  } catch {
    return null;
  }
}
