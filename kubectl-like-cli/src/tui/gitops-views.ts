// What the GitOps view shows, as styled lines: the table of GitOpsSync objects (the columns of
// `skctl get gitopssync`) and one object's details — its directory, git checkout, counts, the
// per-file errors and orphans, conditions and events. Pure, like views.ts.

import type { Condition, Event, GitOpsSync } from '@sandkasten/api-schemas';
import { age } from '../output/age.js';
import { CELL_GAP, fitColumns, layoutRow, type Color, type Line, type Seg, type TableColumn } from './format.js';
import { conditionLines, eventLines, label, smallTable } from './views.js';

export const GITOPS_COLUMNS: TableColumn[] = [
  { header: 'NAME', min: 10 },
  { header: 'SYNCED', fixed: true, min: 6 },
  { header: 'APPLIED', fixed: true, min: 7, align: 'right' },
  { header: 'PRUNED', fixed: true, min: 6, align: 'right' },
  { header: 'FAILED', fixed: true, min: 6, align: 'right' },
  { header: 'COMMIT', fixed: true, min: 7 },
  { header: 'LAST SYNC', fixed: true, min: 9 },
];

function condition(g: GitOpsSync, type: string): Condition | undefined {
  return g.status?.conditions?.find((c) => c.type === type);
}

/** The Synced condition's status; "Unknown" before the first sync. */
export function syncedStatus(g: GitOpsSync): string {
  return condition(g, 'Synced')?.status ?? 'Unknown';
}

const statusColor = (s: string): Color | undefined => (s === 'True' ? 'green' : s === 'False' ? 'red' : 'yellow');
const count = (n: number | undefined) => (n === undefined ? '' : String(n));

/** The cells of a row, in GITOPS_COLUMNS order. */
export function gitopsCells(g: GitOpsSync, now = Date.now()): string[] {
  const st = g.status ?? {};
  return [
    g.metadata.name ?? '',
    syncedStatus(g),
    count(st.applied),
    count(st.pruned),
    count(st.failed),
    st.shortCommit ?? st.commit?.slice(0, 7) ?? '',
    st.lastSyncTime ? age(st.lastSyncTime, now) : '',
  ];
}

/** The table's header and rows, fitted to `width`; the selected row is drawn inverse. */
export function gitopsTableLines(syncs: GitOpsSync[], width: number, selected: number, now = Date.now()): { header: Line; rows: Line[] } {
  const cells = syncs.map((g) => gitopsCells(g, now));
  const widths = fitColumns(GITOPS_COLUMNS, cells, width);
  const header: Line = [{ text: layoutRow(GITOPS_COLUMNS, GITOPS_COLUMNS.map((c) => c.header), widths).join(CELL_GAP), bold: true }];
  const rows = cells.map((c, i) => {
    const segs: Seg[] = [];
    layoutRow(GITOPS_COLUMNS, c, widths).forEach((text, col) => {
      if (col > 0) segs.push({ text: CELL_GAP });
      const color = col === 1 ? statusColor(c[1]!) : col === 4 && Number(c[4]) > 0 ? 'red' : undefined;
      segs.push({ text, color });
    });
    return i === selected ? segs.map((s) => ({ ...s, inverse: true })) : segs;
  });
  return { header, rows };
}

export function gitopsEmptyText(loaded: boolean, error: string | undefined): string {
  if (!loaded) return error ? 'cannot list the GitOpsSync objects: see below' : 'loading…';
  return 'no GitOpsSync objects: GitOps is off (the daemon config has no gitops section)';
}

/** `text` in lines of at most `width` characters, broken at spaces where it can be. */
function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let rest = text.replace(/\s*\n\s*/g, ' ').trim();
  const w = Math.max(10, width);
  while (rest.length > w) {
    const space = rest.lastIndexOf(' ', w);
    const at = space > w / 2 ? space : w;
    out.push(rest.slice(0, at));
    rest = rest.slice(at).trimStart();
  }
  if (rest || out.length === 0) out.push(rest);
  return out;
}

/** One GitOpsSync's details, for a screen `width` columns wide. */
export function gitopsDetailsLines(g: GitOpsSync, events: Event[] | undefined, width: number, now = Date.now(), eventsError?: string): Line[] {
  const lines: Line[] = [];
  const st = g.status ?? {};
  const spec = g.spec ?? {};
  const synced = syncedStatus(g);
  const degraded = condition(g, 'Degraded')?.status;
  const head: Line = [label('GitOpsSync: '), { text: g.metadata.name ?? '' }, { text: '   Synced ' }, { text: synced, color: statusColor(synced), bold: true }];
  if (degraded === 'True') head.push({ text: '   Degraded', color: 'red', bold: true });
  lines.push(head);
  lines.push([label('Path:       '), { text: spec.path ?? '?' }]);
  const mode = [`prune ${spec.prune ? 'on' : 'off'}`];
  if (spec.intervalSeconds !== undefined) mode.push(`re-sync every ${spec.intervalSeconds}s`);
  if (spec.applySet) mode.push(`applyset ${spec.applySet}`);
  lines.push([label('Mode:       '), { text: mode.join(' · ') }]);
  lines.push([label('Git:        '), { text: st.commit ? `branch ${st.branch ?? '(detached)'} · commit ${st.commit}` : 'not a git checkout' }]);
  const when = st.lastSyncTime ? [`${age(st.lastSyncTime, now)} ago`] : ['never'];
  if (st.lastSyncDurationMs !== undefined) when.push(`took ${st.lastSyncDurationMs} ms`);
  if (st.syncCount !== undefined) when.push(`sync #${st.syncCount}`);
  lines.push([label('Last sync:  '), { text: when.join(' · ') }]);
  const counts: Seg[] = [label('Counts:     ')];
  const parts: [string, number | undefined, Color?][] = [
    ['objects', st.objects],
    ['applied', st.applied],
    ['unchanged', st.unchanged],
    ['pruned', st.pruned],
    ['failed', st.failed, st.failed ? 'red' : undefined],
    ['orphaned', st.orphaned, st.orphaned ? 'yellow' : undefined],
  ];
  parts.forEach(([what, n, color], i) => counts.push({ text: `${i ? '  ' : ''}${what} ${n ?? '?'}`, color }));
  lines.push(counts);

  const errors = st.errors ?? [];
  lines.push([]);
  if (errors.length === 0) lines.push([label('Errors:'), { text: '  <none>' }]);
  else {
    lines.push([label(`Errors (${errors.length}${st.failed !== undefined && st.failed > errors.length ? ` of ${st.failed}` : ''})`)]);
    for (const e of errors) {
      // file, document and field on one line; the message under it, wrapped: it is what matters.
      const where: Seg[] = [{ text: '  ' }, { text: e.file, color: 'cyan', bold: true }];
      if (e.document !== undefined) where.push({ text: `  document ${e.document}` });
      if (e.field) where.push({ text: `  field ${e.field}`, color: 'yellow' });
      lines.push(where);
      for (const l of wrap(e.message, width - 4)) lines.push([{ text: `    ${l}`, color: 'red' }]);
    }
  }

  const orphans = st.orphans ?? [];
  if (orphans.length > 0) {
    lines.push([]);
    lines.push([label(`Orphans (${orphans.length}: no longer declared, kept because prune is off)`)]);
    const rows = orphans.map((o) => [o.kind, o.namespace ?? '', o.name, o.file ?? '']);
    lines.push(...smallTable(['KIND', 'NAMESPACE', 'NAME', 'FILE'], rows, () => 'yellow', 2));
  }

  lines.push([]);
  lines.push(...conditionLines(st.conditions ?? [], now));
  lines.push([]);
  lines.push(...eventLines(events, now, eventsError));
  return lines;
}
