// Pure formatting for the TUI: the sessions table fitted to the terminal's width, phase colours,
// CPU and memory as kubectl top prints them, and terminal output made safe to draw.

import type { Session } from '@sandkasten/client';
import { age } from '../output/age.js';

export type Color = 'green' | 'yellow' | 'red' | 'magenta' | 'gray' | 'cyan' | 'blue' | 'white';

/** A piece of a line with its style. */
export interface Seg {
  text: string;
  color?: Color;
  bold?: boolean;
  dim?: boolean;
  inverse?: boolean;
}
export type Line = Seg[];

/** What the table shows of a session's resource use (see stats.ts). */
export interface UsageCells {
  cpu?: string;
  memory?: string;
}

/** The phase a row shows: a session being deleted reads Terminating, as kubectl shows pods. */
export function displayPhase(s: Session): string {
  if (s.metadata.deletionTimestamp) return 'Terminating';
  return s.status?.phase ?? 'Pending';
}

export function phaseColor(phase: string): Color | undefined {
  switch (phase) {
    case 'Ready':
      return 'green';
    case 'Pending':
    case 'Starting':
      return 'yellow';
    case 'Failed':
      return 'red';
    case 'Terminating':
      return 'magenta';
    case 'Expired':
      return 'gray';
    default:
      return undefined;
  }
}

/** Millicores as kubectl top prints CPU ("3m", "1250m"). */
export function formatCpu(millicores: number | undefined): string {
  if (millicores === undefined || !Number.isFinite(millicores)) return '';
  return `${Math.max(0, Math.round(millicores))}m`;
}

/** Bytes as kubectl top prints memory ("512Ki", "12Mi", "2Gi"), one decimal below 10 units. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === undefined || bytes === null || !Number.isFinite(bytes)) return '';
  const units = ['', 'Ki', 'Mi', 'Gi', 'Ti'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  if (i === 0) return `${v}`;
  const s = v < 10 && !Number.isInteger(v) ? v.toFixed(1).replace(/\.0$/, '') : `${Math.round(v)}`;
  return `${s}${units[i]}`;
}

/** Cuts a string to `width` characters, marking the cut with "…". */
export function truncate(s: string, width: number): string {
  if (width <= 0) return '';
  if (s.length <= width) return s;
  if (width === 1) return '…';
  return `${s.slice(0, width - 1)}…`;
}

export interface TableColumn {
  header: string;
  /** Takes its natural width; others share what is left. */
  fixed?: boolean;
  /** Below this a flexible column is not shrunk (it is cut only when nothing else can give). */
  min: number;
  align?: 'left' | 'right';
}

export const SESSION_COLUMNS: TableColumn[] = [
  { header: 'NAME', min: 10 },
  { header: 'NAMESPACE', min: 7 },
  { header: 'PHASE', fixed: true, min: 5 },
  { header: 'IMAGE', min: 6 },
  { header: 'AGE', fixed: true, min: 3 },
  { header: 'CPU', fixed: true, min: 4, align: 'right' },
  { header: 'MEMORY', fixed: true, min: 6, align: 'right' },
];

const GAP = 2;

/**
 * Column widths for these cells within `width`: fixed columns keep their natural width, flexible
 * ones shrink (widest first) down to their minimum, then everything is cut from the right.
 */
export function fitColumns(columns: TableColumn[], rows: string[][], width: number): number[] {
  const natural = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? '').length)));
  const widths = [...natural];
  const total = () => widths.reduce((a, b) => a + b, 0) + GAP * (widths.length - 1);
  while (total() > width) {
    // Shrink the widest flexible column still above its minimum.
    let best = -1;
    for (let i = 0; i < columns.length; i++) {
      if (columns[i]!.fixed || widths[i]! <= columns[i]!.min) continue;
      if (best < 0 || widths[i]! > widths[best]!) best = i;
    }
    if (best < 0) break;
    widths[best]!--;
  }
  // Still too wide (a very narrow terminal): the last columns give way.
  let over = total() - width;
  for (let i = widths.length - 1; i >= 0 && over > 0; i--) {
    const cut = Math.min(over, widths[i]!);
    widths[i]! -= cut;
    over -= cut;
  }
  return widths;
}

/** One row's cells laid out in these widths. */
export function layoutRow(columns: TableColumn[], cells: string[], widths: number[]): string[] {
  return cells.map((c, i) => {
    const w = widths[i] ?? 0;
    const t = truncate(c, w);
    return columns[i]?.align === 'right' ? t.padStart(w) : t.padEnd(w);
  });
}

export const CELL_GAP = ' '.repeat(GAP);

/** The cells of a session's row, in SESSION_COLUMNS order. */
export function sessionCells(s: Session, usage: UsageCells | undefined, now = Date.now()): string[] {
  return [
    s.metadata.name ?? '',
    s.metadata.namespace ?? '',
    displayPhase(s),
    s.spec?.image ?? '',
    s.metadata.creationTimestamp ? age(s.metadata.creationTimestamp, now) : '',
    usage?.cpu ?? '',
    usage?.memory ?? '',
  ];
}

/** "ns/name": the key the TUI keeps sessions under. */
export function sessionKey(s: { metadata: { namespace?: string; name?: string } }): string {
  return `${s.metadata.namespace ?? ''}/${s.metadata.name ?? ''}`;
}

/** kubectl's order: by namespace, then by name. */
export function compareSessions(a: Session, b: Session): number {
  const na = a.metadata.namespace ?? '';
  const nb = b.metadata.namespace ?? '';
  if (na !== nb) return na < nb ? -1 : 1;
  const ma = a.metadata.name ?? '';
  const mb = b.metadata.name ?? '';
  return ma < mb ? -1 : ma > mb ? 1 : 0;
}

// CSI (ESC [ … final), OSC (ESC ] … BEL or ESC \), other two-byte escapes, and C0/C1 controls
// other than newline and tab: a command's colours and cursor moves must not move the TUI's.
// eslint-disable-next-line no-control-regex
const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x9f]/g;

/**
 * Terminal output as plain lines: escape sequences removed, CRLF as a newline, a lone CR starting
 * its line over (what a terminal shows for a progress bar), tabs expanded to 8 columns.
 */
export function outputLines(raw: string): string[] {
  const lines: string[] = [];
  for (const physical of raw.replace(/\r\n/g, '\n').split('\n')) {
    let line = '';
    for (const [i, part] of physical.split('\r').entries()) {
      const clean = expandTabs(part.replace(ESCAPES, ''));
      // Text after a CR overwrites the line from its start.
      line = i === 0 ? clean : clean + line.slice(clean.length);
    }
    lines.push(line);
  }
  return lines;
}

function expandTabs(s: string): string {
  if (!s.includes('\t')) return s;
  let r = '';
  for (const ch of s) r += ch === '\t' ? ' '.repeat(8 - (r.length % 8)) : ch;
  return r;
}

/** Keeps the end of a growing output buffer (at most `max` characters, from a line start). */
export function capOutput(raw: string, max: number): string {
  if (raw.length <= max) return raw;
  const cut = raw.length - max;
  const nl = raw.indexOf('\n', cut);
  return nl >= 0 ? raw.slice(nl + 1) : raw.slice(cut);
}
