// What the user named on the command line: "ses", "ses,ws", "sessions x y", "ses/x ws/y", or a
// category ("all", "sandkasten": the kinds users declare, not Events).

import { resources, type ResourceInfo } from '@sandkasten/api-schemas/resources';
import { resolveKind } from '@sandkasten/client';
import { CliError } from './errors.js';

export interface Target {
  info: ResourceInfo;
  /** Empty: every object of the kind (subject to selectors). */
  names: string[];
}

function kindsOf(word: string): ResourceInfo[] {
  const w = word.trim().toLowerCase();
  if (w === 'all' || w === 'sandkasten') return resources.filter((r) => r.categories?.includes('sandkasten'));
  return [resolveKind(word)];
}

export function parseTargets(args: string[], verb: string): Target[] {
  if (args.length === 0) {
    throw new CliError(`you must specify the type of resource to ${verb} (e.g. sessions, workspaces, images, events; see 'skctl api-resources')`);
  }
  if (args.some((a) => a.includes('/'))) {
    const out: Target[] = [];
    for (const a of args) {
      const slash = a.indexOf('/');
      if (slash <= 0 || slash === a.length - 1) {
        throw new CliError(`there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'skctl ${verb} session/x')`);
      }
      const info = resolveKind(a.slice(0, slash));
      const name = a.slice(slash + 1);
      const t = out.find((x) => x.info === info);
      if (t) t.names.push(name);
      else out.push({ info, names: [name] });
    }
    return out;
  }
  const [kindWord, ...names] = args;
  const infos = kindWord!.split(',').filter((k) => k !== '').flatMap(kindsOf);
  const unique = [...new Set(infos)];
  if (unique.length === 0) throw new CliError(`no resource type given in ${JSON.stringify(kindWord)}`);
  if (names.length > 0 && unique.length > 1) throw new CliError('you must specify only one resource type when naming objects (or use the type/name form)');
  return unique.map((info) => ({ info, names: [...names] }));
}

/** The kind as a plain string: the client then types objects generically (SandkastenObject). */
export const kindName = (info: ResourceInfo): string => info.kind;
