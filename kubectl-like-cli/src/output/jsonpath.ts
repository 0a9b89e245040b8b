// kubectl's JSONPath templates (`-o jsonpath=…`, `-o custom-columns=…`, `wait --for=jsonpath=…`):
// text with actions in braces — paths (`{.metadata.name}`, `{.items[*].spec.image}`,
// `{..name}`, `{.status.conditions[?(@.type=="Ready")].status}`, slices, unions, `\.` in keys),
// string literals (`{"\n"}`), and `{range …}…{end}`. Missing keys print nothing, as with kubectl's
// default --allow-missing-template-keys=true.

type Literal = string | number | boolean | null;

type Step =
  | { t: 'root' }
  | { t: 'current' }
  | { t: 'field'; names: string[] }
  | { t: 'recursive'; name: string }
  | { t: 'wildcard' }
  | { t: 'index'; indices: number[] }
  | { t: 'slice'; start?: number; end?: number; step?: number }
  | { t: 'filter'; left: Operand; op?: string; right?: Operand };

type Operand = { path: Step[] } | { literal: Literal };

type TemplateNode =
  | { kind: 'text'; text: string }
  | { kind: 'literal'; text: string }
  | { kind: 'path'; steps: Step[] }
  | { kind: 'range'; steps: Step[]; body: TemplateNode[] };

export class JsonPathError extends Error {
  override readonly name = 'JsonPathError';
}

/** A parsed template; `execute` renders it against a value. */
export class JsonPath {
  private constructor(
    readonly source: string,
    private readonly nodes: TemplateNode[],
  ) {}

  static parse(template: string): JsonPath {
    return new JsonPath(template, parseTemplate(template));
  }

  /** The rendered template. */
  execute(data: unknown): string {
    let out = '';
    const run = (nodes: TemplateNode[], current: unknown) => {
      for (const n of nodes) {
        switch (n.kind) {
          case 'text':
          case 'literal':
            out += n.text;
            break;
          case 'path':
            out += evaluate(n.steps, data, current).map(formatValue).join(' ');
            break;
          case 'range':
            for (const item of evaluate(n.steps, data, current)) run(n.body, item);
            break;
        }
      }
    };
    run(this.nodes, data);
    return out;
  }

  /**
   * The values of a template that is a single path (`{.status.phase}`), for comparisons; a
   * template with anything else is rendered and returned as one string.
   */
  values(data: unknown): unknown[] {
    const only = this.nodes.length === 1 ? this.nodes[0]! : undefined;
    if (only?.kind === 'path') return evaluate(only.steps, data, data);
    return [this.execute(data)];
  }
}

/** A path as custom-columns and sort-by take it: `.a.b`, `a.b`, `$.a` or `{.a.b}`. */
export function relaxedPath(expr: string): JsonPath {
  let e = expr.trim();
  if (e.startsWith('{') && e.endsWith('}')) e = e.slice(1, -1);
  if (e.startsWith('$')) e = e.slice(1);
  if (e !== '' && !e.startsWith('.') && !e.startsWith('[')) e = `.${e}`;
  if (e === '') throw new JsonPathError(`empty JSONPath expression ${JSON.stringify(expr)}`);
  return JsonPath.parse(`{${e}}`);
}

/** How a value prints: strings as they are, everything else as compact JSON. */
export function formatValue(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined) return '';
  return JSON.stringify(v);
}

// ---- template ----

function parseTemplate(src: string): TemplateNode[] {
  const root: TemplateNode[] = [];
  const stack: { body: TemplateNode[] }[] = [{ body: root }];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('{', i);
    if (open < 0) {
      stack.at(-1)!.body.push({ kind: 'text', text: src.slice(i) });
      break;
    }
    if (open > i) stack.at(-1)!.body.push({ kind: 'text', text: src.slice(i, open) });
    const close = findClose(src, open);
    const action = src.slice(open + 1, close).trim();
    i = close + 1;
    if (action === 'end') {
      if (stack.length === 1) throw new JsonPathError(`${quote(src)}: {end} without {range}`);
      stack.pop();
    } else if (action.startsWith('range ') || action === 'range') {
      const steps = parsePath(action.slice(5).trim(), src);
      const node: TemplateNode = { kind: 'range', steps, body: [] };
      stack.at(-1)!.body.push(node);
      stack.push(node);
    } else if (action.startsWith('"') || action.startsWith("'")) {
      stack.at(-1)!.body.push({ kind: 'literal', text: parseString(action, src) });
    } else if (action === '') {
      throw new JsonPathError(`${quote(src)}: empty action {}`);
    } else {
      stack.at(-1)!.body.push({ kind: 'path', steps: parsePath(action, src) });
    }
  }
  if (stack.length > 1) throw new JsonPathError(`${quote(src)}: {range} without {end}`);
  return root;
}

/** Index of the "}" closing the action that opens at `open`, skipping quoted strings. */
function findClose(src: string, open: number): number {
  let q: string | undefined;
  for (let i = open + 1; i < src.length; i++) {
    const c = src[i];
    if (q) {
      if (c === '\\') i++;
      else if (c === q) q = undefined;
    } else if (c === '"' || c === "'") q = c;
    else if (c === '}') return i;
  }
  throw new JsonPathError(`${quote(src)}: unclosed action (missing "}")`);
}

function parseString(s: string, src: string): string {
  const q = s[0]!;
  if (s.length < 2 || s.at(-1) !== q) throw new JsonPathError(`${quote(src)}: unterminated string ${s}`);
  const body = s.slice(1, -1);
  if (q === '"') {
    try {
      return JSON.parse(`"${body}"`) as string;
    } catch {
      throw new JsonPathError(`${quote(src)}: invalid string literal ${s}`);
    }
  }
  return body.replace(/\\(.)/g, (_, c: string) => ({ n: '\n', t: '\t', r: '\r' })[c] ?? c);
}

// ---- paths ----

const IDENT_STOP = new Set(['.', '[', ']', '{', '}', '(', ')', '=', '!', '<', '>', ',', '|', '&', ' ', '\t', '\n', '"', "'"]);

function parsePath(expr: string, src: string): Step[] {
  const steps: Step[] = [];
  let i = 0;
  const fail = (what: string): never => {
    throw new JsonPathError(`${quote(src)}: ${what} at position ${i} of ${quote(expr)}`);
  };
  const ident = (): string => {
    let name = '';
    while (i < expr.length && !IDENT_STOP.has(expr[i]!)) {
      if (expr[i] === '\\' && i + 1 < expr.length) {
        name += expr[i + 1];
        i += 2;
      } else name += expr[i++];
    }
    return name;
  };
  if (expr[0] === '$') {
    steps.push({ t: 'root' });
    i = 1;
  } else {
    steps.push({ t: 'current' });
    if (expr[0] === '@') i = 1;
  }
  while (i < expr.length) {
    if (expr.startsWith('..', i)) {
      i += 2;
      if (expr[i] === '*') {
        i++;
        steps.push({ t: 'recursive', name: '*' });
      } else {
        const name = ident();
        if (name === '') fail('expected a key after ".."');
        steps.push({ t: 'recursive', name });
      }
    } else if (expr[i] === '.') {
      i++;
      if (expr[i] === '*') {
        i++;
        steps.push({ t: 'wildcard' });
      } else {
        const name = ident();
        // A lone "." (or ".[") is the current value.
        if (name !== '') steps.push({ t: 'field', names: [name] });
      }
    } else if (expr[i] === '[') {
      const end = bracketEnd(expr, i);
      if (end < 0) fail('unclosed "["');
      steps.push(parseBracket(expr.slice(i + 1, end).trim(), src, expr));
      i = end + 1;
    } else if (i === 0 || (expr[i - 1] === '@' && i === 1) || (expr[i - 1] === '$' && i === 1)) {
      const name = ident();
      if (name === '') fail(`unexpected ${JSON.stringify(expr[i])}`);
      steps.push({ t: 'field', names: [name] });
    } else {
      fail(`unexpected ${JSON.stringify(expr[i])}`);
    }
  }
  return steps;
}

function bracketEnd(s: string, open: number): number {
  let depth = 0;
  let q: string | undefined;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (q) {
      if (c === '\\') i++;
      else if (c === q) q = undefined;
    } else if (c === '"' || c === "'") q = c;
    else if (c === '[' || c === '(') depth++;
    else if (c === ']' || c === ')') {
      depth--;
      if (depth === 0) return c === ']' ? i : -1;
    }
  }
  return -1;
}

function parseBracket(inner: string, src: string, expr: string): Step {
  const bad = (): never => {
    throw new JsonPathError(`${quote(src)}: invalid subscript [${inner}] in ${quote(expr)}`);
  };
  if (inner === '*') return { t: 'wildcard' };
  if (inner.startsWith('?')) {
    const m = /^\?\s*\((.*)\)$/s.exec(inner);
    if (!m) return bad();
    return parseFilter(m[1]!.trim(), src);
  }
  if (inner.startsWith("'") || inner.startsWith('"')) {
    const names = splitTop(inner, ',').map((p) => parseString(p.trim(), src));
    return { t: 'field', names };
  }
  if (inner.includes(':')) {
    const parts = inner.split(':').map((p) => p.trim());
    if (parts.length > 3 || parts.some((p) => p !== '' && !/^-?\d+$/.test(p))) return bad();
    const n = (p: string | undefined) => (p === undefined || p === '' ? undefined : Number(p));
    return { t: 'slice', start: n(parts[0]), end: n(parts[1]), step: n(parts[2]) };
  }
  const parts = inner.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => !/^-?\d+$/.test(p))) return bad();
  return { t: 'index', indices: parts.map(Number) };
}

const OPS = ['==', '!=', '<=', '>=', '<', '>'];

function parseFilter(e: string, src: string): Step {
  let q: string | undefined;
  for (let i = 0; i < e.length; i++) {
    const c = e[i]!;
    if (q) {
      if (c === '\\') i++;
      else if (c === q) q = undefined;
      continue;
    }
    if (c === '"' || c === "'") {
      q = c;
      continue;
    }
    const op = OPS.find((o) => e.startsWith(o, i));
    if (op) {
      return { t: 'filter', left: operand(e.slice(0, i).trim(), src), op, right: operand(e.slice(i + op.length).trim(), src) };
    }
  }
  return { t: 'filter', left: operand(e, src) };
}

function operand(s: string, src: string): Operand {
  if (s.startsWith('@') || s.startsWith('$')) return { path: parsePath(s, src) };
  if (s.startsWith('"') || s.startsWith("'")) return { literal: parseString(s, src) };
  if (s === 'true' || s === 'false') return { literal: s === 'true' };
  if (s === 'null') return { literal: null };
  if (/^-?\d+(\.\d+)?$/.test(s)) return { literal: Number(s) };
  throw new JsonPathError(`${quote(src)}: invalid filter operand ${JSON.stringify(s)}`);
}

function splitTop(s: string, sep: string): string[] {
  const out: string[] = [];
  let q: string | undefined;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (q) {
      if (c === '\\') i++;
      else if (c === q) q = undefined;
    } else if (c === '"' || c === "'") q = c;
    else if (c === sep) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out;
}

// ---- evaluation ----

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function evaluate(steps: Step[], root: unknown, current: unknown): unknown[] {
  let vals: unknown[] = [];
  for (const s of steps) {
    switch (s.t) {
      case 'root':
        vals = [root];
        break;
      case 'current':
        vals = [current];
        break;
      case 'field':
        vals = vals.flatMap((v) => (isObject(v) ? s.names.filter((n) => Object.hasOwn(v, n)).map((n) => v[n]) : []));
        break;
      case 'recursive': {
        const out: unknown[] = [];
        const walk = (v: unknown) => {
          if (isObject(v)) {
            if (s.name === '*') out.push(...Object.values(v));
            else if (Object.hasOwn(v, s.name)) out.push(v[s.name]);
            for (const c of Object.values(v)) walk(c);
          } else if (Array.isArray(v)) {
            if (s.name === '*') out.push(...v);
            for (const c of v) walk(c);
          }
        };
        for (const v of vals) walk(v);
        vals = out;
        break;
      }
      case 'wildcard':
        vals = vals.flatMap((v) => (Array.isArray(v) ? v : isObject(v) ? Object.values(v) : []));
        break;
      case 'index':
        vals = vals.flatMap((v) => {
          if (!Array.isArray(v)) return [];
          return s.indices.map((i) => (i < 0 ? v.length + i : i)).filter((i) => i >= 0 && i < v.length).map((i) => v[i]);
        });
        break;
      case 'slice':
        vals = vals.flatMap((v) => (Array.isArray(v) ? slice(v, s) : []));
        break;
      case 'filter':
        vals = vals.flatMap((v) => (Array.isArray(v) ? v : isObject(v) ? Object.values(v) : [])).filter((el) => test(s, root, el));
        break;
    }
  }
  return vals;
}

function slice(a: unknown[], s: { start?: number; end?: number; step?: number }): unknown[] {
  const n = a.length;
  const step = s.step ?? 1;
  if (step <= 0) return [];
  const norm = (x: number | undefined, dflt: number) => (x === undefined ? dflt : x < 0 ? Math.max(0, n + x) : Math.min(n, x));
  const out: unknown[] = [];
  for (let i = norm(s.start, 0); i < norm(s.end, n); i += step) out.push(a[i]);
  return out;
}

function operandValues(o: Operand, root: unknown, el: unknown): unknown[] {
  return 'literal' in o ? [o.literal] : evaluate(o.path, root, el);
}

function test(f: Extract<Step, { t: 'filter' }>, root: unknown, el: unknown): boolean {
  const left = operandValues(f.left, root, el);
  if (!f.op || !f.right) return left.length > 0 && left[0] !== false && left[0] !== null;
  const right = operandValues(f.right, root, el);
  if (left.length === 0 || right.length === 0) return f.op === '!=' && left.length !== right.length;
  const a = left[0];
  const b = right[0];
  if (f.op === '==') return equal(a, b);
  if (f.op === '!=') return !equal(a, b);
  const x = typeof a === 'number' && typeof b === 'number' ? [a, b] : [formatValue(a), formatValue(b)];
  switch (f.op) {
    case '<':
      return x[0]! < x[1]!;
    case '>':
      return x[0]! > x[1]!;
    case '<=':
      return x[0]! <= x[1]!;
    default:
      return x[0]! >= x[1]!;
  }
}

function equal(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' || typeof b === 'number') return Number(a) === Number(b);
  return formatValue(a) === formatValue(b);
}

function quote(s: string): string {
  return JSON.stringify(s);
}
