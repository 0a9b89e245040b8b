// kubectl-style tables: columns from the resource table's printer columns (NAME, PHASE, IMAGE,
// AGE …; -o wide adds the priority-1 ones), NAMESPACE first with -A, LABELS with --show-labels;
// aligned like Go's tabwriter as kubectl sets it up (min width 6, 3 spaces of padding). A table
// that goes on printing rows (get -w) keeps the widths it has reached, like RememberWidths.

import type { PrinterColumn, ResourceInfo } from '@sandkasten/api-schemas';
import { formatLabels } from '../util.js';
import { age } from './age.js';
import { formatValue, relaxedPath, type JsonPath } from './jsonpath.js';

export interface Column {
  header: string;
  cell(obj: Obj): string;
}

type Obj = { metadata: { name?: string; namespace?: string; labels?: Record<string, string> }; [k: string]: unknown };

export interface TableOptions {
  wide?: boolean;
  /** Adds a NAMESPACE column (with -A, for namespaced kinds). */
  namespaceColumn?: boolean;
  showLabels?: boolean;
  /** NAME shows "session.sandkasten.dev/x" (when several kinds are printed). */
  qualifiedNames?: string;
}

/** The columns for a kind. */
export function columnsFor(info: ResourceInfo, o: TableOptions = {}): Column[] {
  const cols: Column[] = [];
  if (o.namespaceColumn && info.namespaced) cols.push({ header: 'NAMESPACE', cell: (x) => x.metadata.namespace ?? '' });
  cols.push({ header: 'NAME', cell: (x) => (o.qualifiedNames ? `${o.qualifiedNames}/${x.metadata.name}` : (x.metadata.name ?? '')) });
  for (const pc of info.printerColumns) {
    if ((pc.priority ?? 0) > 0 && !o.wide) continue;
    cols.push(printerColumn(pc));
  }
  if (o.showLabels) cols.push({ header: 'LABELS', cell: (x) => formatLabels(x.metadata.labels) });
  return cols;
}

function printerColumn(pc: PrinterColumn): Column {
  const path = relaxedPath(pc.jsonPath);
  return {
    header: pc.name.toUpperCase(),
    cell: (obj) => {
      const vals = path.values(obj);
      if (vals.length === 0 || vals[0] === null || vals[0] === undefined) return '';
      if (pc.type === 'date' && typeof vals[0] === 'string') return age(vals[0]);
      return vals.map(formatValue).join(',');
    },
  };
}

/** -o custom-columns=HEADER:PATH,…; a path without a value prints "<none>". */
export function customColumns(spec: string): Column[] {
  const parts = splitColumns(spec);
  if (parts.length === 0) throw new Error('custom-columns format specified but no custom columns given');
  return parts.map((p) => {
    const colon = p.indexOf(':');
    if (colon < 0) throw new Error(`unexpected custom-columns spec: ${p}, expected <header>:<json-path-expr>`);
    const header = p.slice(0, colon);
    const path: JsonPath = relaxedPath(p.slice(colon + 1));
    return {
      header,
      cell: (obj) => {
        const vals = path.values(obj).filter((v) => v !== undefined);
        return vals.length === 0 ? '<none>' : vals.map(formatValue).join(',');
      },
    };
  });
}

/** Splits "A:.a,B:.b[?(@.x==\"1,2\")]" at commas outside brackets and quotes. */
function splitColumns(spec: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let q: string | undefined;
  let start = 0;
  for (let i = 0; i < spec.length; i++) {
    const c = spec[i];
    if (q) {
      if (c === q) q = undefined;
    } else if (c === '"' || c === "'") q = c;
    else if (c === '[' || c === '(' || c === '{') depth++;
    else if (c === ']' || c === ')' || c === '}') depth--;
    else if (c === ',' && depth === 0) {
      out.push(spec.slice(start, i));
      start = i + 1;
    }
  }
  out.push(spec.slice(start));
  return out.map((s) => s.trim()).filter((s) => s !== '');
}

const MIN_WIDTH = 6;
const PADDING = 3;

/** Rows printed with aligned columns; widths only grow, so later rows line up with earlier ones. */
export class TableWriter {
  private widths: number[] = [];
  private started = false;

  constructor(
    readonly columns: Column[],
    private readonly headers = true,
  ) {}

  /** The header (unless disabled) and the rows of `objs`, as text. */
  render(objs: Obj[], prefix?: (o: Obj) => string): string {
    const rows = objs.map((o) => this.cells(o, prefix));
    if (this.headers && !this.started) rows.unshift(this.columns.map((c) => c.header));
    this.started = true;
    for (const r of rows) this.grow(r);
    return rows.map((r) => this.line(r)).join('');
  }

  /** One more row (get -w); the header first if nothing was printed yet. */
  row(obj: Obj, prefix?: (o: Obj) => string): string {
    if (!this.started) return this.render([obj], prefix);
    const r = this.cells(obj, prefix);
    this.grow(r);
    return this.line(r);
  }

  private cells(o: Obj, prefix?: (o: Obj) => string): string[] {
    const r = this.columns.map((c) => oneLine(c.cell(o)));
    if (prefix) r[0] = prefix(o) + r[0];
    return r;
  }

  private grow(r: string[]): void {
    r.forEach((cell, i) => {
      this.widths[i] = Math.max(this.widths[i] ?? 0, MIN_WIDTH, cell.length + PADDING);
    });
  }

  private line(r: string[]): string {
    return `${r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(this.widths[i]!))).join('').trimEnd()}\n`;
  }
}

/** A cell never breaks the table: newlines and tabs become spaces. */
function oneLine(s: string): string {
  return s.replace(/[\r\n\t]+/g, ' ');
}
