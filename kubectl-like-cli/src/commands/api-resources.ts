// skctl api-resources — the kinds, their names and scope (from the shared resource table).

import { resources } from '@sandkasten/api-schemas/resources';
import { TableWriter } from '../output/table.js';
import { out } from '../util.js';

export function runApiResources(o: { output?: string; headers?: boolean }): number {
  if (o.output === 'name') {
    for (const r of resources) out(`${r.plural}.${r.group}\n`);
    return 0;
  }
  type R = (typeof resources)[number];
  const cell = (f: (r: R) => string) => (x: unknown) => f((x as { r: R }).r);
  const w = new TableWriter(
    [
      { header: 'NAME', cell: cell((r) => r.plural) },
      { header: 'SHORTNAMES', cell: cell((r) => r.shortNames.join(',')) },
      { header: 'APIVERSION', cell: cell((r) => `${r.group}/${r.version}`) },
      { header: 'NAMESPACED', cell: cell((r) => String(r.namespaced)) },
      { header: 'KIND', cell: cell((r) => r.kind) },
    ],
    o.headers !== false,
  );
  out(w.render(resources.map((r) => ({ metadata: { name: r.plural }, r }))));
  return 0;
}
