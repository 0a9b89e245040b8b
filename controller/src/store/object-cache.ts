// The in-memory copy of the current-objects table. The store's process owns the database file
// exclusively, so this copy is authoritative between writes and reads never touch SQLite: a get is
// one Map lookup, a list one slice of an array kept sorted by (namespace, name).

import type { StoredObject } from './types.js';

export interface CacheEntry {
  readonly namespace: string;
  readonly name: string;
  readonly rv: number;
  /** Deep-frozen; shared with every reader. */
  readonly object: StoredObject;
  /** The same object as JSON text, exactly as stored. */
  readonly raw: string;
}

/** Parses stored JSON into a deep-frozen object. */
export function parseFrozen(raw: string): StoredObject {
  return deepFreeze(JSON.parse(raw) as StoredObject);
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function before(ns: string, name: string, e: CacheEntry): boolean {
  return ns < e.namespace || (ns === e.namespace && name < e.name);
}

/** One resource's objects. */
class ResourceCache {
  private readonly byKey = new Map<string, CacheEntry>();
  /** Sorted by (namespace, name). */
  private readonly sorted: CacheEntry[] = [];

  get(namespace: string, name: string): CacheEntry | undefined {
    return this.byKey.get(keyOf(namespace, name));
  }

  set(entry: CacheEntry): void {
    const k = keyOf(entry.namespace, entry.name);
    const i = this.lowerBound(entry.namespace, entry.name);
    if (this.byKey.has(k)) this.sorted[i] = entry;
    else this.sorted.splice(i, 0, entry);
    this.byKey.set(k, entry);
  }

  delete(namespace: string, name: string): void {
    const k = keyOf(namespace, name);
    if (!this.byKey.delete(k)) return;
    this.sorted.splice(this.lowerBound(namespace, name), 1);
  }

  /** The entries of one namespace (or all), in order. A fresh array. */
  range(namespace: string | undefined): CacheEntry[] {
    if (namespace === undefined) return this.sorted.slice();
    const from = this.lowerBound(namespace, '');
    let to = from;
    // Namespaces are few per resource and their entries contiguous: walk to the end of the run
    // rather than binary-search a successor string.
    while (to < this.sorted.length && this.sorted[to]!.namespace === namespace) to++;
    return this.sorted.slice(from, to);
  }

  get size(): number {
    return this.byKey.size;
  }

  /** Index of the first entry not before (namespace, name). */
  private lowerBound(namespace: string, name: string): number {
    let lo = 0;
    let hi = this.sorted.length;
    // Creates usually arrive in name order: check the end first.
    if (hi > 0 && !before(namespace, name, this.sorted[hi - 1]!) && !sameKey(this.sorted[hi - 1]!, namespace, name)) return hi;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const e = this.sorted[mid]!;
      if (before(namespace, name, e) || sameKey(e, namespace, name)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

function sameKey(e: CacheEntry, namespace: string, name: string): boolean {
  return e.namespace === namespace && e.name === name;
}

// NUL cannot occur in a namespace, so the pair maps to one string without ambiguity.
function keyOf(namespace: string, name: string): string {
  return namespace + '\u0000' + name;
}

export class ObjectCache {
  private readonly resources = new Map<string, ResourceCache>();

  get(resource: string, namespace: string, name: string): CacheEntry | undefined {
    return this.resources.get(resource)?.get(namespace, name);
  }

  set(resource: string, entry: CacheEntry): void {
    let r = this.resources.get(resource);
    if (r === undefined) {
      r = new ResourceCache();
      this.resources.set(resource, r);
    }
    r.set(entry);
  }

  delete(resource: string, namespace: string, name: string): void {
    this.resources.get(resource)?.delete(namespace, name);
  }

  range(resource: string, namespace: string | undefined): CacheEntry[] {
    return this.resources.get(resource)?.range(namespace) ?? [];
  }

  /** Objects cached across all resources. */
  get size(): number {
    let n = 0;
    for (const r of this.resources.values()) n += r.size;
    return n;
  }
}
