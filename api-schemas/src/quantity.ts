// Kubernetes-style quantities: "512Mi" bytes, "500m" CPUs. The schemas check the syntax; these
// helpers convert for the reconcilers and refuse what the schemas would refuse.

const BYTES_RE = /^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;
const CPU_RE = /^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(m)?$/;

const MULTIPLIERS: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

function render(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/**
 * Bytes of a quantity: an integer, or a string such as "512Mi", "1.5G", "1e9". Fractions round up
 * (as Kubernetes does). Throws RangeError with a message fit for a user on anything else.
 */
export function parseQuantity(q: string | number): number {
  if (typeof q === 'number') {
    if (!Number.isSafeInteger(q) || q < 0) throw new RangeError(`Invalid value: ${render(q)}: must be a non-negative integer number of bytes`);
    return q;
  }
  const m = typeof q === 'string' ? BYTES_RE.exec(q) : null;
  if (!m) throw new RangeError(`Invalid value: ${render(q)}: must be a quantity of bytes such as "512Mi", "1G" or "1048576"`);
  const suffix = m[2] ?? '';
  // "1E" is an exabyte, "1E3" a thousand bytes.
  const mult = /^[eE][+-]?[0-9]+$/.test(suffix) ? 10 ** Number(suffix.slice(1)) : MULTIPLIERS[suffix];
  const bytes = Math.ceil(Number(m[1]) * (mult ?? NaN));
  if (!Number.isSafeInteger(bytes)) throw new RangeError(`Invalid value: ${render(q)}: too large`);
  return bytes;
}

/** CPUs of a quantity: 0.5, "0.5", "500m" → 0.5. Throws RangeError on anything else. */
export function parseCpu(q: string | number): number {
  if (typeof q === 'number') {
    if (!Number.isFinite(q) || q < 0) throw new RangeError(`Invalid value: ${render(q)}: must be a non-negative number of CPUs`);
    return q;
  }
  const m = typeof q === 'string' ? CPU_RE.exec(q) : null;
  if (!m) throw new RangeError(`Invalid value: ${render(q)}: must be a number of CPUs such as "0.5", "2" or "500m"`);
  const n = Number(m[1]);
  // Milli-CPUs are integral in Kubernetes; round to the millicore so "0.0005" cannot sneak in as 0.
  return m[2] === 'm' ? Math.ceil(n) / 1000 : Math.ceil(n * 1000) / 1000;
}

/** Short binary rendering for tables: 536870912 → "512Mi", 1500 → "1500". */
export function formatBytes(bytes: number): string {
  const units = ['Ei', 'Pi', 'Ti', 'Gi', 'Mi', 'Ki'] as const;
  for (const u of units) {
    const m = MULTIPLIERS[u] as number;
    if (bytes >= m) {
      const v = bytes / m;
      return `${v >= 10 || Number.isInteger(v) ? Math.round(v) : v.toFixed(1)}${u}`;
    }
  }
  return String(bytes);
}
