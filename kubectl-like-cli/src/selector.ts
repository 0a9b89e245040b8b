// Label selectors evaluated on the client, for manifests that are not on the server yet
// (apply -l): =, ==, !=, in, notin, key, !key, joined by commas — the server's syntax.

import { CliError } from './errors.js';

type Requirement = { key: string; op: 'eq' | 'ne' | 'in' | 'notin' | 'exists' | 'absent'; values: string[] };

export function parseSelector(s: string): Requirement[] {
  const out: Requirement[] = [];
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '(') depth++;
    else if (s[i] === ')') depth--;
    else if (s[i] === ',' && depth === 0) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(s.slice(start));
  for (const raw of parts) {
    const p = raw.trim();
    if (p === '') continue;
    let m: RegExpExecArray | null;
    if ((m = /^!\s*([^\s=!(),]+)$/.exec(p))) out.push({ key: m[1]!, op: 'absent', values: [] });
    else if ((m = /^([^\s=!(),]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(p))) {
      out.push({ key: m[1]!, op: m[2] as 'in' | 'notin', values: m[3]!.split(',').map((v) => v.trim()) });
    } else if ((m = /^([^\s=!(),]+)\s*(==|=|!=)\s*([^\s=!(),]*)$/.exec(p))) {
      out.push({ key: m[1]!, op: m[2] === '!=' ? 'ne' : 'eq', values: [m[3]!] });
    } else if ((m = /^([^\s=!(),]+)$/.exec(p))) out.push({ key: m[1]!, op: 'exists', values: [] });
    else throw new CliError(`invalid label selector ${JSON.stringify(s)}: cannot parse ${JSON.stringify(p)}`);
  }
  return out;
}

export function matchLabels(selector: string, labels: Record<string, string>): boolean {
  return parseSelector(selector).every((r) => {
    const has = Object.hasOwn(labels, r.key);
    const v = labels[r.key];
    switch (r.op) {
      case 'eq':
        return has && v === r.values[0];
      case 'ne':
        return !has || v !== r.values[0];
      case 'in':
        return has && r.values.includes(v!);
      case 'notin':
        return !has || !r.values.includes(v!);
      case 'exists':
        return has;
      case 'absent':
        return !has;
    }
  });
}
