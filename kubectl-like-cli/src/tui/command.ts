// `skctl tui` in the command table: its flags, help and examples. The UI itself (Ink, React) is
// loaded only when the command runs, so other commands start no slower for it.

import type { Command } from 'commander';
import type { GlobalOptions } from '../connection.js';
import type { TuiOptions } from './index.js';

type Act = (load: (o: TuiOptions, cmd: Command) => Promise<number>) => (o: TuiOptions, cmd: Command) => Promise<void>;

export function registerTui(sub: (name: string, description: string) => Command, act: Act): Command {
  return sub('tui', 'Interactive terminal UI: live sessions with CPU and memory, details, exec, shell, delete')
    .option('-A, --all-namespaces', 'sessions of every namespace')
    .option('-l, --selector <selector>', 'only sessions matching this label selector')
    .option('--refresh <duration>', 'how often CPU and memory are sampled', '3s')
    .addHelpText(
      'after',
      `
The table follows the daemon through a watch (no polling) and resumes after a lost connection.
Keys: ↑↓/j k select · Enter/d details · x run a command · s shell (Ctrl-] detaches) ·
D/Del delete (y/N) · n namespace · A all namespaces · l label selector · / name filter ·
? help · q/Ctrl-C quit. Needs a terminal (stdin and stdout a TTY), 80×24 or larger.

Examples:
  skctl tui                                # sessions of the current namespace
  skctl tui -A                             # every namespace
  skctl tui -n team-a -l app=agent         # a namespace, by label
  skctl --context prod tui --refresh 10s
`,
    )
    .action(
      act(async (o: TuiOptions, cmd: Command) => (await import('./index.js')).runTui(o, cmd.optsWithGlobals() as GlobalOptions)),
    );
}
