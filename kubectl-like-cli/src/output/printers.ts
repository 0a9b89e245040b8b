// -o: how get (and apply, delete, edit, wait) print objects.

import { CliError } from '../errors.js';
import { JsonPath } from './jsonpath.js';
import { customColumns, type Column } from './table.js';

export type OutputFormat =
  | { kind: 'table'; wide: boolean }
  | { kind: 'json' }
  | { kind: 'yaml' }
  | { kind: 'name' }
  | { kind: 'jsonpath'; template: JsonPath }
  | { kind: 'custom-columns'; columns: Column[] };

export const FORMATS = ['custom-columns', 'json', 'jsonpath', 'name', 'wide', 'yaml'];

export function parseOutput(o: string | undefined): OutputFormat {
  if (o === undefined || o === '') return { kind: 'table', wide: false };
  if (o === 'wide') return { kind: 'table', wide: true };
  if (o === 'json' || o === 'yaml' || o === 'name') return { kind: o };
  const eq = o.indexOf('=');
  const name = eq < 0 ? o : o.slice(0, eq);
  const arg = eq < 0 ? undefined : o.slice(eq + 1);
  try {
    if (name === 'jsonpath' || name === 'jsonpath-as-json') {
      if (!arg) throw new CliError('template format specified but no template given (use -o jsonpath=\'{.metadata.name}\')');
      return { kind: 'jsonpath', template: JsonPath.parse(arg) };
    }
    if (name === 'custom-columns') {
      if (!arg) throw new CliError('custom-columns format specified but no custom columns given (use -o custom-columns=NAME:.metadata.name)');
      return { kind: 'custom-columns', columns: customColumns(arg) };
    }
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError((e as Error).message);
  }
  throw new CliError(`unable to match a printer suitable for the output format "${o}", allowed formats are: ${FORMATS.join(',')}`);
}
