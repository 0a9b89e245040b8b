// skctl completion bash|zsh — a shell script that asks `skctl __complete WORDS… CURRENT` for
// candidates (commands, flags, kinds, object names from the server, contexts, output formats).

import type { Command, Option } from 'commander';
import { configPath, loadConfig } from '../config-file.js';
import { makeClient, type GlobalOptions } from '../connection.js';
import { CliError } from '../errors.js';
import { FORMATS } from '../output/printers.js';
import { out } from '../util.js';

const BASH = `# bash completion for skctl; load with: source <(skctl completion bash)
_skctl() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  local IFS=$'\\n'
  COMPREPLY=( $(skctl __complete "\${COMP_WORDS[@]:1:COMP_CWORD-1}" "$cur" 2>/dev/null) )
  [[ \${#COMPREPLY[@]} -eq 0 ]] && compopt -o default 2>/dev/null
  return 0
}
complete -F _skctl skctl
`;

const ZSH = `#compdef skctl
# zsh completion for skctl; load with: source <(skctl completion zsh)
_skctl() {
  local -a candidates
  candidates=("\${(@f)$(skctl __complete "\${(@)words[2,CURRENT-1]}" "\${words[CURRENT]}" 2>/dev/null)}")
  if (( \${#candidates[@]} )) && [[ -n "\${candidates[1]}" ]]; then
    compadd -- "\${candidates[@]}"
  else
    _files
  fi
}
if [[ "$funcstack[1]" = "_skctl" ]]; then _skctl "$@"; else compdef _skctl skctl; fi
`;

export function runCompletion(shell: string): number {
  if (shell === 'bash') out(BASH);
  else if (shell === 'zsh') out(ZSH);
  else throw new CliError(`unsupported shell type "${shell}": use bash or zsh`);
  return 0;
}

const KIND_COMMANDS = new Set(['get', 'describe', 'delete', 'edit', 'wait']);

/** Candidates for the last word, given the words before it (the command line after "skctl"). */
export async function complete(program: Command, words: string[], cur: string, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const g: GlobalOptions = {};
  let cmd: Command = program;
  const positional: string[] = [];
  const options = (c: Command): readonly Option[] => [...c.options, ...(c === program ? [] : program.options)];
  const takesValue = (c: Command, w: string): Option | undefined => {
    if (w.includes('=')) return undefined;
    return options(c).find((o) => (o.long === w || o.short === w) && (o.required || o.optional));
  };
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w.startsWith('-')) {
      const opt = takesValue(cmd, w);
      if (opt && i + 1 < words.length) {
        const v = words[++i]!;
        if (opt.long === '--namespace') g.namespace = v;
        else if (opt.long === '--context') g.context = v;
        else if (opt.long === '--config') g.config = v;
        else if (opt.long === '--server') g.server = v;
        else if (opt.long === '--token') g.token = v;
      }
      continue;
    }
    const sub = positional.length === 0 ? cmd.commands.find((c) => c.name() === w || c.aliases().includes(w)) : undefined;
    if (sub) cmd = sub;
    else positional.push(w);
  }
  const prefix = (xs: string[]) => xs.filter((x) => x.startsWith(cur));

  const prev = words.at(-1);
  if (prev?.startsWith('-') && !prev.includes('=')) {
    const opt = takesValue(cmd, prev);
    if (opt) {
      if (opt.long === '--output') return prefix(FORMATS);
      if (opt.long === '--context') return prefix(contextNames(g, env));
      if (opt.long === '--for') return prefix(['condition=Ready', 'delete', 'jsonpath=']);
      return [];
    }
  }
  if (cur.startsWith('-')) {
    return prefix(options(cmd).flatMap((o) => (o.hidden ? [] : [o.long ?? o.short ?? ''])).filter(Boolean));
  }
  if (cmd === program || cmd.commands.length > 0) {
    return prefix(cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden).map((c) => c.name()));
  }
  const name = cmd.name();
  const parent = cmd.parent?.name();
  if (parent === 'config' && ['use-context', 'delete-context', 'get-contexts', 'set-context'].includes(name)) return prefix(contextNames(g, env));
  if (name === 'completion') return prefix(['bash', 'zsh']);
  if (KIND_COMMANDS.has(name) && parent === program.name()) {
    if (positional.length === 0) {
      const { resources } = await import('@sandkasten/api-schemas');
      return prefix(resources.flatMap((r) => [r.plural, ...r.shortNames]));
    }
    return prefix(await objectNames(positional[0]!, g));
  }
  return [];
}

function contextNames(g: GlobalOptions, env: NodeJS.ProcessEnv): string[] {
  try {
    return loadConfig(configPath(g.config, env)).contexts.map((c) => c.name);
  } catch {
    return [];
  }
}

async function objectNames(kind: string, g: GlobalOptions): Promise<string[]> {
  try {
    const { client } = await makeClient(g);
    try {
      const l = await client.list(kind.split(',')[0]!, {});
      return l.items.map((x) => (x as { metadata: { name: string } }).metadata.name);
    } finally {
      client.close();
    }
  } catch {
    return [];
  }
}
