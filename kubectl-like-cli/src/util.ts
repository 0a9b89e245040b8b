// Small helpers shared by the commands.

import { CliError } from './errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go-style duration ("30s", "1m30s", "500ms", "2h"); a bare number is seconds. In ms. */
export function parseDuration(s: string, flag: string): number {
  const t = s.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;
  let total = 0;
  let i = 0;
  while (i < t.length) {
    re.lastIndex = i;
    const m = re.exec(t);
    if (!m) throw new CliError(`invalid ${flag} ${JSON.stringify(s)}: expected a duration such as 30s, 1m30s or 500ms`);
    total += Number(m[1]) * UNITS[m[2]!]!;
    i = re.lastIndex;
  }
  if (t === '') throw new CliError(`invalid ${flag} "": expected a duration such as 30s`);
  return Math.round(total);
}

/** Collects a repeatable option's values (commander's option coercion). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** kubectl's --dry-run: none (default), server; client is refused (every check is the server's). */
export function dryRunFlag(v: string | boolean | undefined): boolean {
  if (v === undefined || v === false || v === 'none') return false;
  if (v === true || v === 'server') return true;
  if (v === 'client') throw new CliError('--dry-run=client is not supported: use --dry-run=server (the server validates without storing)');
  throw new CliError(`invalid --dry-run ${JSON.stringify(v)}: must be "none" or "server"`);
}

/** Writes to stdout; a closed pipe (skctl get | head) ends the process quietly. */
export function out(text: string): void {
  process.stdout.write(text);
}

/** Labels as kubectl prints them: sorted "k=v" joined by commas, or "<none>". */
export function formatLabels(labels: Record<string, string> | undefined): string {
  const keys = Object.keys(labels ?? {}).sort();
  return keys.length ? keys.map((k) => `${k}=${labels![k]}`).join(',') : '<none>';
}

/** A boolean flag value as kubectl takes them: --flag, --flag=true, --flag=false. */
export function parseBool(v: string | undefined): boolean {
  if (v === undefined || v === 'true') return true;
  if (v === 'false') return false;
  throw new CliError(`invalid boolean value ${JSON.stringify(v)}: use true or false`);
}
