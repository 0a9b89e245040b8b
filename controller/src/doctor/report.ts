// The doctor's report for people: one row per check, hints under the rows that need them.

import type { CheckStatus, DoctorReport } from './checks.js';

const COLORS: Record<CheckStatus, string> = { ok: '\x1b[32m', warn: '\x1b[33m', fail: '\x1b[31m' };
const RESET = '\x1b[0m';

export function formatReport(report: DoctorReport, opts: { color?: boolean } = {}): string {
  const idWidth = Math.max(5, ...report.checks.map((c) => c.id.length));
  const paint = (s: CheckStatus, text: string) => (opts.color ? `${COLORS[s]}${text}${RESET}` : text);
  const lines = [`${'CHECK'.padEnd(idWidth)}  STATUS  DETAIL`];
  for (const c of report.checks) {
    lines.push(`${c.id.padEnd(idWidth)}  ${paint(c.status, c.status.padEnd(6))}  ${c.detail}`);
    if (c.hint && c.status !== 'ok') lines.push(`${' '.repeat(idWidth + 10)}→ ${c.hint}`);
  }
  const fails = report.checks.filter((c) => c.status === 'fail').length;
  const warns = report.checks.filter((c) => c.status === 'warn').length;
  const warnText = warns > 0 ? ` (${warns} warning${warns === 1 ? '' : 's'})` : '';
  lines.push('', fails > 0 ? paint('fail', `${fails} required check${fails === 1 ? '' : 's'} failed${warnText}: sandboxes will not run on this host until fixed.`) : `This host can run sandboxes${warnText}.`);
  return `${lines.join('\n')}\n`;
}
