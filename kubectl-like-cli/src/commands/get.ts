// skctl get KIND [NAME…] — tables from the printer columns, or -o json|yaml|name|wide|
// jsonpath=…|custom-columns=…; -l/--field-selector, -n/-A; -w streams changes.

import type { ResourceInfo } from '@sandkasten/api-schemas';
import { NotFoundError, qualifiedName, type SandboxClient, type SandkastenObject } from '@sandkasten/client';
import { makeClient, type GlobalOptions } from '../connection.js';
import { CliError, describeError } from '../errors.js';
import { asList, toJson, toYaml } from '../output/format.js';
import { parseOutput, type OutputFormat } from '../output/printers.js';
import { TableWriter, columnsFor, type Column } from '../output/table.js';
import { parseTargets, type Target, kindName } from '../resources.js';
import { out } from '../util.js';

export interface GetOptions {
  output?: string;
  selector?: string;
  fieldSelector?: string;
  allNamespaces?: boolean;
  watch?: boolean;
  watchOnly?: boolean;
  outputWatchEvents?: boolean;
  showLabels?: boolean;
  headers?: boolean;
  ignoreNotFound?: boolean;
}

export async function runGet(args: string[], o: GetOptions, g: GlobalOptions): Promise<number> {
  const fmt = parseOutput(o.output);
  const targets = parseTargets(args, 'get');
  if (targets.some((t) => t.names.length > 0) && o.selector) throw new CliError('selector (-l) and names cannot be combined');
  const watching = Boolean(o.watch || o.watchOnly);
  if (watching && targets.length > 1) throw new CliError('you may only specify a single resource type with --watch');
  const { client, conn } = await makeClient(g);
  try {
    const namespace = o.allNamespaces ? undefined : conn.namespace;
    let failed = false;
    const results: { target: Target; items: SandkastenObject[]; resourceVersion?: string }[] = [];
    for (const t of targets) {
      if (t.names.length > 0) {
        const items: SandkastenObject[] = [];
        for (const name of t.names) {
          try {
            items.push(await client.get(kindName(t.info), name, { namespace }));
          } catch (e) {
            if (e instanceof NotFoundError && o.ignoreNotFound) continue;
            failed = true;
            process.stderr.write(`${describeError(e)}\n`);
          }
        }
        results.push({ target: t, items });
      } else {
        const list = await client.list(kindName(t.info), {
          namespace,
          allNamespaces: Boolean(o.allNamespaces),
          labelSelector: o.selector,
          fieldSelector: o.fieldSelector,
        });
        results.push({ target: t, items: list.items as SandkastenObject[], resourceVersion: list.metadata.resourceVersion });
      }
    }

    const single = targets.length === 1 && targets[0]!.names.length === 1;
    const printer = makePrinter(fmt, o, results.length > 1);
    if (!o.watchOnly) {
      const all = results.flatMap((r) => r.items);
      const anyListed = results.some((r) => r.target.names.length === 0);
      if (all.length === 0 && anyListed && !(watching && fmt.kind === 'table')) {
        if (fmt.kind === 'json' || fmt.kind === 'yaml') printer.objects([], false);
        else process.stderr.write(noResources(targets, namespace));
      } else {
        printer.objects(all, single && all.length === 1, (obj) => results.find((r) => r.items.includes(obj))!.target.info);
      }
    }
    if (!watching || failed) return failed ? 1 : 0;

    const r = results[0]!;
    const name = r.target.names[0];
    if (r.target.names.length > 1) throw new CliError('watch is only supported on individual resources and resource collections, but several names were given');
    await watchAndPrint(client, r.target.info, printer, {
      namespace,
      allNamespaces: Boolean(o.allNamespaces),
      labelSelector: o.selector,
      fieldSelector: name ? `metadata.name=${name}` : o.fieldSelector,
      resourceVersion: r.resourceVersion ?? r.items[0]?.metadata.resourceVersion,
      known: r.items,
      events: Boolean(o.outputWatchEvents),
    });
    return failed ? 1 : 0;
  } finally {
    client.close();
  }
}

function noResources(targets: Target[], namespace: string | undefined): string {
  const namespaced = targets.some((t) => t.info.namespaced);
  return namespaced && namespace !== undefined ? `No resources found in ${namespace} namespace.\n` : 'No resources found\n';
}

interface Printer {
  /** Prints a result set; `single`: one object was asked for by name (printed as itself, not a List). */
  objects(items: SandkastenObject[], single: boolean, infoOf?: (o: SandkastenObject) => ResourceInfo): void;
  /** Prints one object arriving on a watch. */
  event(type: string, obj: SandkastenObject, info: ResourceInfo): void;
}

function makePrinter(fmt: OutputFormat, o: GetOptions, severalKinds: boolean): Printer {
  const headers = o.headers !== false;
  switch (fmt.kind) {
    case 'json':
    case 'yaml': {
      const print = fmt.kind === 'json' ? toJson : toYaml;
      return {
        objects: (items, single) => out(print(single ? items[0] : asList(items))),
        // Each object on its own: JSON objects one after another, YAML documents separated by ---.
        event: (_t, obj) => out(fmt.kind === 'yaml' ? `---\n${toYaml(obj)}` : print(obj)),
      };
    }
    case 'name': {
      const line = (obj: SandkastenObject, info: ResourceInfo) => `${qualifiedName(info)}/${obj.metadata.name}\n`;
      return {
        objects: (items, _s, infoOf) => items.forEach((x) => out(line(x, infoOf!(x)))),
        event: (_t, obj, info) => out(line(obj, info)),
      };
    }
    case 'jsonpath':
      return {
        objects: (items, single) => out(fmt.template.execute(single ? items[0] : asList(items))),
        event: (_t, obj) => out(fmt.template.execute(obj)),
      };
    case 'custom-columns': {
      const w = new TableWriter(fmt.columns, headers);
      return {
        objects: (items) => out(w.render(items)),
        event: (_t, obj) => out(w.row(obj)),
      };
    }
    case 'table': {
      // One table per kind; several kinds get "kind/name" names and a blank line between tables.
      const writers = new Map<ResourceInfo, TableWriter>();
      let eventType = '';
      const writerFor = (info: ResourceInfo) => {
        let w = writers.get(info);
        if (!w) {
          const cols: Column[] = columnsFor(info, {
            wide: fmt.wide,
            namespaceColumn: Boolean(o.allNamespaces),
            showLabels: Boolean(o.showLabels),
            qualifiedNames: severalKinds ? qualifiedName(info) : undefined,
          });
          if (o.outputWatchEvents) cols.unshift({ header: 'EVENT', cell: () => eventType });
          w = new TableWriter(cols, headers);
          writers.set(info, w);
        }
        return w;
      };
      return {
        objects: (items, _s, infoOf) => {
          eventType = 'ADDED';
          const groups = new Map<ResourceInfo, SandkastenObject[]>();
          for (const x of items) {
            const info = infoOf!(x);
            groups.set(info, [...(groups.get(info) ?? []), x]);
          }
          let first = true;
          for (const [info, objs] of groups) {
            if (!first) out('\n');
            first = false;
            out(writerFor(info).render(objs));
          }
        },
        event: (type, obj, info) => {
          eventType = type;
          out(writerFor(info).row(obj));
        },
      };
    }
  }
}

async function watchAndPrint(
  client: SandboxClient,
  info: ResourceInfo,
  printer: Printer,
  w: {
    namespace?: string;
    allNamespaces: boolean;
    labelSelector?: string;
    fieldSelector?: string;
    resourceVersion?: string;
    known: SandkastenObject[];
    events: boolean;
  },
): Promise<void> {
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    for await (const ev of client.watch(kindName(info), {
      namespace: w.namespace,
      allNamespaces: w.allNamespaces,
      labelSelector: w.labelSelector,
      fieldSelector: w.fieldSelector,
      resourceVersion: w.resourceVersion,
      known: w.known,
      signal: ac.signal,
    })) {
      printer.event(ev.type, ev.object as SandkastenObject, info);
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
