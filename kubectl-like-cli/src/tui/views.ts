// What each view shows, as styled lines: the sessions table, a session's details, the exec
// transcript and the help. Pure functions of their inputs, so they are tested without a terminal.

import type { Condition, Event, Session } from '@sandkasten/client';
import { age } from '../output/age.js';
import type { ExecResult } from './exec.js';
import {
  CELL_GAP,
  SESSION_COLUMNS,
  displayPhase,
  fitColumns,
  formatBytes,
  formatCpu,
  layoutRow,
  outputLines,
  phaseColor,
  sessionCells,
  truncate,
  type Line,
  type Seg,
} from './format.js';
import type { FeedFilter } from './feed.js';
import type { Usage } from './stats.js';

export type View =
  | { kind: 'table' }
  | { kind: 'details'; key: string }
  | { kind: 'exec'; key: string }
  /** `back`: the view Esc returns to (the sessions table when absent). */
  | { kind: 'help'; back?: View }
  | { kind: 'gitops' }
  | { kind: 'gitops-details'; name: string };
export type PromptKind = 'namespace' | 'label' | 'name';

/** The table's header and rows, fitted to `width`; the selected row is drawn inverse. */
export function tableLines(sessions: Session[], usage: (s: Session) => Usage | undefined, width: number, selected: number, now = Date.now()): { header: Line; rows: Line[] } {
  const cells = sessions.map((s) => {
    const u = usage(s);
    return sessionCells(s, u && { cpu: formatCpu(u.cpuMillicores), memory: formatBytes(u.memoryBytes) }, now);
  });
  const widths = fitColumns(SESSION_COLUMNS, cells, width);
  const header: Line = [{ text: layoutRow(SESSION_COLUMNS, SESSION_COLUMNS.map((c) => c.header), widths).join(CELL_GAP), bold: true }];
  const rows = cells.map((c, i) => {
    const laid = layoutRow(SESSION_COLUMNS, c, widths);
    const segs: Seg[] = [];
    laid.forEach((text, col) => {
      if (col > 0) segs.push({ text: CELL_GAP });
      segs.push(col === 2 ? { text, color: phaseColor(displayPhase(sessions[i]!)) } : { text });
    });
    if (i === selected) return segs.map((s) => ({ ...s, inverse: true }));
    return segs;
  });
  return { header, rows };
}

export const label = (text: string): Seg => ({ text, bold: true });

/** A session's details: summary, spec, resource use, conditions, and its recent events. */
export function detailsLines(s: Session, events: Event[] | undefined, usage: Usage | undefined, now = Date.now(), eventsError?: string): Line[] {
  const lines: Line[] = [];
  const m = s.metadata;
  const phase = displayPhase(s);
  lines.push([label('Session:   '), { text: `${m.namespace ?? ''}/${m.name ?? ''}` }, { text: '   ' }, { text: phase, color: phaseColor(phase), bold: true }]);
  if (s.status?.reason || s.status?.message) {
    lines.push([label('Message:   '), { text: [s.status.reason, s.status.message].filter(Boolean).join(': '), color: phase === 'Failed' ? 'red' : undefined }]);
  }
  const times = [m.creationTimestamp ? `${age(m.creationTimestamp, now)} ago` : '?'];
  if (s.status?.expireTime) times.push(`expires ${age(s.status.expireTime, now)}`);
  if (s.status?.lastActivityTime) times.push(`last active ${age(s.status.lastActivityTime, now)} ago`);
  lines.push([label('Created:   '), { text: times.join(' · ') }]);
  if (m.deletionTimestamp) lines.push([label('Deleting:  '), { text: `since ${age(m.deletionTimestamp, now)}`, color: 'magenta' }]);
  const labels = Object.entries(m.labels ?? {}).map(([k, v]) => `${k}=${v}`).sort();
  lines.push([label('Labels:    '), { text: labels.length ? labels.join(',') : '<none>' }]);
  lines.push([label('UID:       '), { text: m.uid ?? '', dim: true }]);

  const spec = s.spec ?? {};
  const ws = typeof spec.workspace === 'string' ? spec.workspace : spec.workspace ? `${spec.workspace.name}${spec.workspace.mountPath ? ` at ${spec.workspace.mountPath}` : ''}` : '<none>';
  const specParts = [`image ${spec.image ?? '<default>'}`, `workspace ${ws}`, `network ${spec.network?.mode ?? 'default'}`, `ttl ${spec.ttlSeconds !== undefined ? `${spec.ttlSeconds}s` : 'default'}`];
  if (spec.maxLifetimeSeconds !== undefined) specParts.push(`max lifetime ${spec.maxLifetimeSeconds}s`);
  if (spec.securityProfile?.seccomp) specParts.push(`seccomp ${spec.securityProfile.seccomp}`);
  if (spec.workingDir) specParts.push(`cwd ${spec.workingDir}`);
  if (spec.env?.length) specParts.push(`env ${spec.env.map((e) => e.name).join(',')}`);
  lines.push([label('Spec:      '), { text: specParts.join(' · ') }]);
  const res = spec.resources ?? {};
  lines.push([label('Limits:    '), { text: [`cpu ${res.cpu ?? 'default'}`, `memory ${res.memory ?? 'default'}`, `pids ${res.pids ?? 'default'}`].join(' · ') }]);
  if (usage) {
    const parts: string[] = [];
    parts.push(`CPU ${formatCpu(usage.cpuMillicores) || '…'}${usage.cpuLimitCores ? ` of ${usage.cpuLimitCores} core${usage.cpuLimitCores === 1 ? '' : 's'}` : ''}`);
    parts.push(`memory ${formatBytes(usage.memoryBytes) || '?'}${usage.memoryLimitBytes ? ` of ${formatBytes(usage.memoryLimitBytes)}` : ''}`);
    parts.push(`pids ${usage.pids ?? '?'}${usage.pidsLimit ? ` of ${usage.pidsLimit}` : ''}`);
    if (usage.oomKills) parts.push(`${usage.oomKills} OOM kill${usage.oomKills === 1 ? '' : 's'}`);
    lines.push([label('Usage:     '), { text: parts.join(' · ') }]);
  }

  lines.push([]);
  lines.push(...conditionLines(s.status?.conditions ?? [], now));
  lines.push([]);
  lines.push(...eventLines(events, now, eventsError));
  return lines;
}

/** The conditions table (or `Conditions: <none>`). */
export function conditionLines(conditions: Condition[], now = Date.now()): Line[] {
  if (conditions.length === 0) return [[label('Conditions:'), { text: '  <none>' }]];
  const rows = conditions.map((c) => [c.type ?? '', String(c.status ?? ''), c.reason ?? '', c.lastTransitionTime ? age(c.lastTransitionTime, now) : '', c.message ?? '']);
  return [[label('Conditions')], ...smallTable(['TYPE', 'STATUS', 'REASON', 'AGE', 'MESSAGE'], rows, (r) => (r[1] === 'True' ? 'green' : r[1] === 'False' ? 'yellow' : undefined), 1)];
}

/** An object's recent events, oldest first (undefined: still loading). */
export function eventLines(events: Event[] | undefined, now = Date.now(), error?: string): Line[] {
  if (error) return [[label('Events:'), { text: `  cannot list: ${error}`, color: 'red' }]];
  if (events === undefined) return [[label('Events:'), { text: '  loading…', dim: true }]];
  if (events.length === 0) return [[label('Events:'), { text: '  <none>' }]];
  const rows = sortEvents(events)
    .slice(-20)
    .map((e) => {
      const last = e.lastTimestamp || e.firstTimestamp || e.metadata.creationTimestamp || '';
      const seen = e.count > 1 && e.firstTimestamp ? `${age(last, now)} (x${e.count})` : age(last, now);
      return [e.type, e.reason, seen, e.source?.component ?? e.reportingComponent ?? '', e.message.replace(/\s*\n\s*/g, ' ')];
    });
  return [[label('Events')], ...smallTable(['TYPE', 'REASON', 'AGE', 'FROM', 'MESSAGE'], rows, (r) => (r[0] === 'Warning' ? 'yellow' : undefined), 0)];
}

/** Oldest first; within one second (timestamps have no more precision), in the order written. */
export function sortEvents(events: Event[]): Event[] {
  const when = (e: Event) => Date.parse(e.lastTimestamp || e.firstTimestamp || e.metadata.creationTimestamp || '') || 0;
  const rv = (e: Event) => Number(e.metadata.resourceVersion) || 0;
  return [...events].sort((a, b) => when(a) - when(b) || rv(a) - rv(b));
}

/** A small table indented by two spaces; `colorOf` colours the cell at `colorCol`. */
export function smallTable(headers: string[], rows: string[][], colorOf: (r: string[]) => Seg['color'], colorCol: number): Line[] {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: string[], header: boolean): Line => {
    const segs: Seg[] = [{ text: '  ' }];
    r.forEach((c, i) => {
      const text = i === r.length - 1 ? c : c.padEnd(widths[i]! + 2);
      segs.push({ text, bold: header || undefined, color: !header && i === colorCol ? colorOf(r) : undefined });
    });
    return segs;
  };
  return [line(headers, true), ...rows.map((r) => line(r, false))];
}

/** One command of the exec transcript. */
export interface ExecBlock {
  command: string;
  output: string;
  result?: ExecResult;
  error?: string;
  interrupted?: boolean;
}

export function execLines(blocks: ExecBlock[]): Line[] {
  const lines: Line[] = [];
  for (const b of blocks) {
    lines.push([{ text: '$ ', color: 'cyan', bold: true }, { text: b.command, bold: true }]);
    const out = outputLines(b.output);
    if (out.length > 0 && out[out.length - 1] === '') out.pop();
    for (const l of out) lines.push([{ text: l }]);
    if (b.result) lines.push([resultSeg(b.result)]);
    else if (b.error) lines.push([{ text: b.error, color: 'red' }]);
  }
  return lines;
}

export function resultSeg(r: ExecResult): Seg {
  const notes: string[] = [];
  if (r.durationMs !== undefined) notes.push(formatDuration(r.durationMs));
  if (r.timedOut) notes.push('timed out');
  if (r.truncated) notes.push('output truncated');
  if (r.shellRestarted) notes.push('shell restarted');
  if (r.shellExited) notes.push('shell exited');
  return { text: `exit code ${r.exitCode}${notes.length ? ` · ${notes.join(' · ')}` : ''}`, color: r.exitCode === 0 ? 'green' : 'red', dim: false };
}

function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

export const HELP: [string, string][] = [
  ['↑ ↓  k j', 'select a session (PgUp PgDn Home End)'],
  ['Enter  d', 'details: spec, usage, conditions, events'],
  ['x', 'run a command in the session (streams its output)'],
  ['s', 'open an interactive shell (Ctrl-] detaches)'],
  ['D  Del', 'delete the session (asks y/N)'],
  ['n', 'namespace filter (empty: all namespaces)'],
  ['A', 'all namespaces'],
  ['l', 'label selector, e.g. team=a,tier!=db'],
  ['/', 'filter by name (Esc clears)'],
  ['g', 'GitOps: the synced directories, their errors and events'],
  ['Esc', 'back (from details, exec, GitOps and help)'],
  ['?', 'this help'],
  ['q  Ctrl-C', 'quit (Ctrl-C interrupts a running command)'],
];

export function helpLines(): Line[] {
  return [
    [{ text: 'Keys', bold: true }],
    [],
    ...HELP.map(([k, v]): Line => [{ text: `  ${k.padEnd(12)}`, color: 'cyan', bold: true }, { text: v }]),
    [],
    [{ text: 'The table follows the daemon through a watch: changes show as they happen,', dim: true }],
    [{ text: 'and after a lost connection it resumes where it left off. CPU and MEMORY are', dim: true }],
    [{ text: 'sampled every few seconds for the Ready sessions on screen.', dim: true }],
  ];
}

// ---- the frame around the views: title, key hints, prompts ----

export const PROMPTS: Record<PromptKind, string> = {
  namespace: 'namespace (empty: all): ',
  label: 'label selector: ',
  name: 'name contains: ',
};

export function titleLine(server: string, filter: FeedFilter, nameFilter: string, shown: number, total: number, connected: boolean, view: View, cols: number): Line {
  const parts: Seg[] = [{ text: ' Sandkasten ', inverse: true, bold: true }, { text: ' ' }];
  const where =
    view.kind === 'details' ? `details ${view.key}`
    : view.kind === 'exec' ? `exec ${view.key}`
    : view.kind === 'help' ? 'help'
    : view.kind === 'gitops' ? 'gitops'
    : view.kind === 'gitops-details' ? `gitops ${view.name}`
    : 'sessions';
  parts.push({ text: where, bold: true });
  // GitOpsSync is cluster-scoped: the sessions' filters do not apply to it.
  const gitops = view.kind === 'gitops' || view.kind === 'gitops-details';
  if (!gitops) {
    parts.push({ text: `  ns: ${filter.namespace ?? 'all'}`, color: 'cyan' });
    if (filter.labelSelector) parts.push({ text: `  -l ${filter.labelSelector}`, color: 'cyan' });
    if (nameFilter) parts.push({ text: `  /${nameFilter}`, color: 'cyan' });
  }
  const count = nameFilter && !gitops ? `${shown}/${total}` : `${total}`;
  const right: Seg[] = [{ text: `${count} · ` }, { text: connected ? '● live' : '○ offline', color: connected ? 'green' : 'red' }];
  const rightLen = right.reduce((n, p) => n + p.text.length, 0);
  const used = parts.reduce((n, p) => n + p.text.length, 0);
  const serverText = truncate(`  ${server}`, Math.max(0, cols - used - rightLen - 2));
  parts.push({ text: serverText, dim: true });
  parts.push({ text: ' '.repeat(Math.max(1, cols - used - serverText.length - rightLen)) }, ...right);
  return parts;
}

export function hints(view: View, running: boolean): Line {
  const k = (key: string, what: string): Seg[] => [{ text: key, color: 'cyan', bold: true }, { text: ` ${what}  ` }];
  switch (view.kind) {
    case 'details':
      return [...k('↑↓', 'scroll'), ...k('x', 'exec'), ...k('s', 'shell'), ...k('D', 'delete'), ...k('Esc', 'back'), ...k('^C', 'quit')];
    case 'exec':
      return running
        ? [...k('^C', 'interrupt'), { text: 'running…', color: 'yellow' }]
        : [...k('Enter', 'run'), ...k('↑↓', 'history'), ...k('PgUp/Dn', 'scroll'), ...k('Esc', 'back')];
    case 'help':
      return [...k('Esc', 'back')];
    case 'gitops':
      return [...k('⏎', 'details'), ...k('↑↓', 'select'), ...k('Esc g', 'sessions'), ...k('?', 'help'), ...k('q', 'quit')];
    case 'gitops-details':
      return [...k('↑↓', 'scroll'), ...k('Esc', 'back'), ...k('g', 'sessions'), ...k('^C', 'quit')];
    default:
      // q quits too (the help says so): with it the line would not fit 80 columns.
      return [...k('⏎', 'details'), ...k('x', 'exec'), ...k('s', 'shell'), ...k('D', 'del'), ...k('n', 'ns'), ...k('l', 'label'), ...k('/', 'name'), ...k('g', 'gitops'), ...k('?', 'help')];
  }
}

export function promptLine(input: string | undefined, running: boolean): Line {
  if (running || input === undefined) return [{ text: '$ ', color: 'cyan', bold: true }, { text: 'running…', dim: true }];
  return [{ text: '$ ', color: 'cyan', bold: true }, { text: input.replace(/\n/g, ' ↵ ') }, { text: ' ', inverse: true }];
}

export function emptyText(loaded: boolean, error: string | undefined, filter: FeedFilter, nameFilter: string): string {
  if (!loaded) return error ? 'cannot list the sessions: see below' : 'loading…';
  const where = filter.namespace ? `in namespace ${filter.namespace}` : 'in any namespace';
  const sel = filter.labelSelector ? ` matching ${filter.labelSelector}` : '';
  return nameFilter ? `no session name contains "${nameFilter}"` : `no sessions ${where}${sel}`;
}

/** Where to break a long line to fit `cols`: at the last space, unless that wastes half of it. */
export function wrapAt(text: string, cols: number): number {
  const space = text.lastIndexOf(' ', cols);
  return space > cols / 2 ? space : cols;
}
