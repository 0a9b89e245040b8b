// Ages as kubectl prints them; the duration format is shared with the API server's Tables.
import { humanDuration } from '@sandkasten/api-schemas/duration';

export { humanDuration };

/**
 * The age of an RFC 3339 timestamp ("5m"); a time in the future reads "in 5m" (Expires columns),
 * where kubectl would print "<invalid>". Not a timestamp: returned as it is.
 */
export function age(timestamp: string, now = Date.now()): string {
  const t = Date.parse(timestamp);
  if (Number.isNaN(t)) return timestamp;
  const d = now - t;
  return d < -1000 ? `in ${humanDuration(-d)}` : humanDuration(d);
}
