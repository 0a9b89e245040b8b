// skctl stats NAME… — what sessions use, as kubectl top prints it: CPU in millicores over a short
// window (two readings of the cgroup's usage), memory and processes against their limits.

import type { SandboxClient, SessionStats } from '@sandkasten/client';
import { makeClient, type GlobalOptions } from '../connection.js';
import { CliError, describeError } from '../errors.js';
import { TableWriter, type Column } from '../output/table.js';
import { formatBytes, formatCpu } from '../tui/format.js';
import { out, parseDuration } from '../util.js';
import { sessionName } from './exec.js';

export interface StatsOptions {
  output?: string;
  headers?: boolean;
  interval?: string;
}

interface Row {
  metadata: { name: string; namespace: string };
  stats: SessionStats;
  /** Average over the window; undefined when the cgroup reports no CPU usage. */
  cpuMillicores: number | undefined;
}

export async function runStats(args: string[], o: StatsOptions, g: GlobalOptions): Promise<number> {
  if (args.length === 0) throw new CliError('a session name is required: skctl stats NAME…');
  const names = args.map(sessionName);
  if (o.output !== undefined && o.output !== 'json' && o.output !== 'yaml') throw new CliError(`invalid --output ${JSON.stringify(o.output)}: json or yaml (or none for a table)`);
  const intervalMs = o.interval !== undefined ? parseDuration(o.interval, '--interval') : 500;
  if (intervalMs < 100 || intervalMs > 60_000) throw new CliError('--interval must be between 100ms and 60s');
  const { client, conn } = await makeClient(g);
  try {
    const results = await Promise.all(names.map((n) => sample(client, conn.namespace, n, intervalMs).catch((e: unknown) => e as Error)));
    const rows = results.filter((r): r is Row => !(r instanceof Error));
    let failed = false;
    for (const r of results) {
      if (r instanceof Error) {
        failed = true;
        process.stderr.write(`${describeError(r)}\n`);
      }
    }
    if (o.output) {
      const items = rows.map((r) => ({ name: r.metadata.name, namespace: r.metadata.namespace, cpuMillicores: r.cpuMillicores === undefined ? null : Math.round(r.cpuMillicores), ...r.stats }));
      const doc = names.length === 1 ? items[0] : items;
      if (doc !== undefined) {
        if (o.output === 'json') out(`${JSON.stringify(doc, null, 4)}\n`);
        else out((await import('yaml')).stringify(doc));
      }
    } else if (rows.length > 0) {
      out(new TableWriter(COLUMNS, o.headers !== false).render(rows as never));
    }
    return failed ? 1 : 0;
  } finally {
    client.close();
  }
}

const cell = (f: (r: Row) => string) => (obj: unknown) => f(obj as Row);

const COLUMNS: Column[] = [
  { header: 'NAME', cell: cell((r) => r.metadata.name) },
  { header: 'CPU(cores)', cell: cell((r) => `${formatCpu(r.cpuMillicores) || '-'}/${cores(r.stats.cpu.limitCores)}`) },
  { header: 'MEMORY(bytes)', cell: cell((r) => `${formatBytes(r.stats.memory.usageBytes) || '-'}/${r.stats.memory.limitBytes === null ? 'unlimited' : formatBytes(r.stats.memory.limitBytes)}`) },
  { header: 'PIDS', cell: cell((r) => `${r.stats.pids.current ?? '-'}/${r.stats.pids.limit ?? 'unlimited'}`) },
];

/** A CPU limit as kubectl writes quantities: "1", "2", "500m". */
function cores(limit: number | null): string {
  if (limit === null) return 'unlimited';
  return Number.isInteger(limit) ? String(limit) : `${Math.round(limit * 1000)}m`;
}

/** Two readings `intervalMs` apart: CPU is the usage between them. */
async function sample(client: SandboxClient, namespace: string, name: string, intervalMs: number): Promise<Row> {
  const { SandboxSession } = await import('@sandkasten/client');
  const s = new SandboxSession(client, { apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name, namespace } });
  // Looking is not using: the readings do not keep an idle session from expiring.
  const a = await s.stats({ activity: false });
  await new Promise((r) => setTimeout(r, intervalMs));
  const b = await s.stats({ activity: false });
  const dt = Date.parse(b.timestamp) - Date.parse(a.timestamp);
  const du = (b.cpu.usageNanoseconds ?? NaN) - (a.cpu.usageNanoseconds ?? NaN);
  const cpu = dt > 0 && Number.isFinite(du) ? (du / 1e6 / dt) * 1000 : undefined;
  return { metadata: { name, namespace }, stats: b, cpuMillicores: cpu };
}
