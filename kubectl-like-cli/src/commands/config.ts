// skctl config use-context | set-context | delete-context | get-contexts | current-context | view

import { configPath, findContext, loadConfig, saveConfig, type ConfigFile, type ContextEntry } from '../config-file.js';
import type { GlobalOptions } from '../connection.js';
import { CliError } from '../errors.js';
import { toJson } from '../output/format.js';
import { TableWriter } from '../output/table.js';
import { out } from '../util.js';

const path = (g: GlobalOptions) => configPath(g.config);

export function useContext(name: string, g: GlobalOptions): number {
  const p = path(g);
  const cfg = loadConfig(p);
  if (!findContext(cfg, name)) throw new CliError(`no context exists with the name: "${name}"`);
  cfg['current-context'] = name;
  saveConfig(p, cfg);
  out(`Switched to context "${name}".\n`);
  return 0;
}

export interface SetContextOptions {
  current?: boolean;
  server?: string;
  apiKey?: string;
  namespace?: string;
  insecureSkipTlsVerify?: string | boolean;
  certificateAuthority?: string;
}

/** Creates the context or changes the fields named; an empty value ("--namespace=") removes one. */
export function setContext(name: string | undefined, o: SetContextOptions, g: GlobalOptions): number {
  const p = path(g);
  const cfg = loadConfig(p);
  if (o.current) {
    if (name) throw new CliError('you cannot specify both a context name and --current');
    name = cfg['current-context'];
    if (!name) throw new CliError('no current context is set');
  }
  if (!name) throw new CliError('a context name is required: skctl config set-context NAME [--server URL] [--api-key KEY] [--namespace NS]');
  let ctx = findContext(cfg, name);
  const existed = ctx !== undefined;
  if (!ctx) {
    ctx = { name };
    cfg.contexts.push(ctx);
  }
  const set = (k: 'server' | 'api-key' | 'namespace' | 'certificate-authority', v: string | undefined) => {
    if (v === undefined) return;
    if (v === '') delete ctx[k];
    else ctx[k] = v;
  };
  if (o.server !== undefined && o.server !== '' && !/^https?:\/\/[^/]/.test(o.server)) {
    throw new CliError(`invalid --server ${JSON.stringify(o.server)}: expected http://host:port or https://host:port`);
  }
  set('server', o.server);
  set('api-key', o.apiKey);
  set('namespace', o.namespace);
  set('certificate-authority', o.certificateAuthority);
  if (o.insecureSkipTlsVerify !== undefined) {
    const v = o.insecureSkipTlsVerify;
    if (v === true || v === 'true') ctx['insecure-skip-tls-verify'] = true;
    else if (v === false || v === 'false') delete ctx['insecure-skip-tls-verify'];
    else throw new CliError(`invalid --insecure-skip-tls-verify ${JSON.stringify(v)}: must be true or false`);
  }
  if (cfg.contexts.length === 1 && !cfg['current-context']) cfg['current-context'] = name;
  saveConfig(p, cfg);
  out(`Context "${name}" ${existed ? 'modified' : 'created'}.\n`);
  return 0;
}

export function deleteContext(name: string, g: GlobalOptions): number {
  const p = path(g);
  const cfg = loadConfig(p);
  if (!findContext(cfg, name)) throw new CliError(`cannot delete context ${name}, not in ${p}`);
  cfg.contexts = cfg.contexts.filter((c) => c.name !== name);
  if (cfg['current-context'] === name) {
    delete cfg['current-context'];
    process.stderr.write(`warning: this removed your active context, use "skctl config use-context" to select a different one\n`);
  }
  saveConfig(p, cfg);
  out(`deleted context ${name} from ${p}\n`);
  return 0;
}

export function getContexts(names: string[], o: { output?: string; headers?: boolean }, g: GlobalOptions): number {
  const cfg = loadConfig(path(g));
  let contexts = cfg.contexts;
  if (names.length > 0) {
    for (const n of names) if (!findContext(cfg, n)) throw new CliError(`context ${n} not found`);
    contexts = contexts.filter((c) => names.includes(c.name));
  }
  if (o.output === 'name') {
    for (const c of contexts) out(`${c.name}\n`);
    return 0;
  }
  if (o.output !== undefined) throw new CliError(`output must be one of '' or 'name'`);
  type Row = { metadata: { name: string }; c: ContextEntry };
  const w = new TableWriter(
    [
      { header: 'CURRENT', cell: (x) => ((x as unknown as Row).c.name === cfg['current-context'] ? '*' : '') },
      { header: 'NAME', cell: (x) => (x as unknown as Row).c.name },
      { header: 'SERVER', cell: (x) => (x as unknown as Row).c.server ?? '' },
      { header: 'NAMESPACE', cell: (x) => (x as unknown as Row).c.namespace ?? '' },
    ],
    o.headers !== false,
  );
  out(w.render(contexts.map((c) => ({ metadata: { name: c.name }, c }))));
  return 0;
}

export function currentContext(g: GlobalOptions): number {
  const cfg = loadConfig(path(g));
  if (!cfg['current-context']) throw new CliError('current-context is not set');
  out(`${cfg['current-context']}\n`);
  return 0;
}

/** The configuration; API keys shown as REDACTED unless --raw. --minify: only the current context. */
export async function view(o: { raw?: boolean; minify?: boolean; output?: string }, g: GlobalOptions): Promise<number> {
  const cfg: ConfigFile = structuredClone(loadConfig(path(g)));
  if (o.minify) {
    const cur = cfg['current-context'];
    if (!cur) throw new CliError('current-context must exist in order to minify');
    cfg.contexts = cfg.contexts.filter((c) => c.name === cur);
  }
  if (!o.raw) for (const c of cfg.contexts) if (c['api-key']) c['api-key'] = 'REDACTED';
  const doc = {
    apiVersion: 'skctl.sandkasten.dev/v1',
    kind: 'Config',
    'current-context': cfg['current-context'] ?? '',
    contexts: cfg.contexts,
  };
  if (o.output === 'json') out(toJson(doc));
  else if (o.output === undefined || o.output === 'yaml') {
    const { stringify } = await import('yaml');
    out(stringify(doc, { indentSeq: false }));
  } else throw new CliError('config view supports -o yaml (default) or json');
  return 0;
}
