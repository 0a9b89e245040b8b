// One request as the API handlers see it: method, path, query parameters (parsed only when asked
// for), headers, on plain node:http. Query helpers turn bad values into 400s that name them.

import type { IncomingMessage } from 'node:http';
import { errors } from './errors.js';

export class ApiRequest {
  readonly method: string;
  /** The request target as sent, for log lines. */
  readonly url: string;
  /** The path part of url, still percent-encoded. */
  readonly path: string;
  private readonly search: string;
  private parsed?: URLSearchParams;

  constructor(readonly req: IncomingMessage) {
    this.method = req.method ?? 'GET';
    this.url = req.url ?? '/';
    const q = this.url.indexOf('?');
    this.path = q < 0 ? this.url : this.url.slice(0, q);
    this.search = q < 0 ? '' : this.url.slice(q + 1);
  }

  private get query(): URLSearchParams {
    this.parsed ??= new URLSearchParams(this.search);
    return this.parsed;
  }

  /** A query parameter's last value (as Kubernetes reads repeated parameters). */
  param(name: string): string | undefined {
    if (this.search === '') return undefined;
    const all = this.query.getAll(name);
    return all.length > 0 ? all[all.length - 1] : undefined;
  }

  params(name: string): string[] {
    return this.search === '' ? [] : this.query.getAll(name);
  }

  bool(name: string): boolean | undefined {
    const v = this.param(name);
    if (v === undefined) return undefined;
    if (v === '1' || v === 'true') return true;
    if (v === '0' || v === 'false' || v === '') return false;
    throw errors.badRequest(`invalid value for ${name}: ${JSON.stringify(v)} (expected true or false)`);
  }

  int(name: string, min = 0): number | undefined {
    const v = this.param(name);
    if (v === undefined || v === '') return undefined;
    if (!/^-?\d+$/.test(v) || Number(v) < min) throw errors.badRequest(`invalid value for ${name}: ${JSON.stringify(v)} (expected an integer >= ${min})`);
    return Number(v);
  }

  header(name: string): string | undefined {
    const v = this.req.headers[name];
    return Array.isArray(v) ? v.join(', ') : v;
  }
}
