// skctl's command table: every verb with its flags, help and examples. Command modules are
// loaded when their verb runs, so `skctl --help` or `skctl config …` do not load the client.

import { Command, CommanderError, Option } from 'commander';
import type { GlobalOptions } from './connection.js';
import { CliError, describeError, exitCodeOf } from './errors.js';
import { collect, parseBool } from './util.js';
import { registerTui } from './tui/command.js';

const examples = (lines: string) => `\nExamples:\n${lines.replace(/^\n/, '').replace(/\s+$/, '')}\n`;

export function buildProgram(run: (code: number) => void): Command {
  const program = new Command('skctl')
    .description('skctl controls Sandkasten: sessions, workspaces and images, declared like Kubernetes resources.')
    .usage('[command] [options]')
    .option('-n, --namespace <namespace>', 'the namespace of namespaced kinds (default: the context\'s, else "default")')
    .option('--server <url>', 'the daemon\'s URL (default: the context\'s, $SANDKASTEN_SERVER, else http://127.0.0.1:8080)')
    .option('--token <api-key>', 'the API key (default: the context\'s or $SANDKASTEN_API_KEY)')
    .option('--context <name>', 'the context of the config file to use')
    .option('--config <file>', 'the config file (default: $SKCTL_CONFIG, else $XDG_CONFIG_HOME/sandkasten/config.yaml)')
    .option('--insecure-skip-tls-verify', 'do not verify the server\'s certificate (testing only)')
    .option('--certificate-authority <file>', 'PEM file of the CA that signed the server\'s certificate')
    .option('--request-timeout <duration>', 'give up on a request after this long (e.g. 10s; default 30s)')
    .showHelpAfterError("See 'skctl --help' for usage.")
    .addHelpText(
      'after',
      examples(`
  skctl apply -f session.yaml              # declare a session
  skctl get sessions -o wide               # list them
  skctl wait session demo --for=condition=Ready
  skctl describe session demo              # conditions and events
  skctl delete session demo`),
    );
  program.configureOutput({ outputError: (s, write) => write(s) });
  program.exitOverride();

  const globals = (cmd: Command) => cmd.optsWithGlobals() as GlobalOptions;
  const act =
    <A extends unknown[]>(load: (...args: A) => Promise<number> | number) =>
    async (...args: A) => {
      run(await load(...args));
    };
  const sub = (name: string, description: string) =>
    program
      .command(name)
      .description(description)
      .showHelpAfterError(`See 'skctl ${name.split(' ')[0]} --help' for usage.`);
  const outputOpt = (formats = 'json|yaml|name|wide|jsonpath=…|custom-columns=…') => new Option('-o, --output <format>', `output format: ${formats}`);

  sub('get', 'Display one or many objects')
    .argument('[kind-and-names...]', 'KIND [NAME…], KIND1,KIND2, or KIND/NAME …')
    .addOption(outputOpt())
    .option('-l, --selector <selector>', 'label selector, e.g. team=a,tier!=db or "env in (a,b)"')
    .option('--field-selector <selector>', 'field selector, e.g. metadata.name=x or involvedObject.uid=… (events)')
    .option('-A, --all-namespaces', 'objects of every namespace')
    .option('-w, --watch', 'after listing, print changes as they happen')
    .option('--watch-only', 'print changes only, not the current state')
    .option('--output-watch-events', 'with -w: an EVENT column (ADDED, MODIFIED, DELETED)')
    .option('--show-labels', 'a LABELS column')
    .option('--no-headers', 'no header row')
    .option('--ignore-not-found', 'a named object that does not exist is not an error')
    .addHelpText(
      'after',
      examples(`
  skctl get sessions                       # NAME, PHASE, IMAGE, AGE
  skctl get ses -A -o wide --show-labels   # every namespace, more columns
  skctl get ses,ws -l team=a               # two kinds, by label
  skctl get session demo -o yaml
  skctl get ses -o jsonpath='{range .items[*]}{.metadata.name}{"\\t"}{.status.phase}{"\\n"}{end}'
  skctl get ses -o custom-columns=NAME:.metadata.name,IMAGE:.spec.image
  skctl get events --field-selector involvedObject.name=demo
  skctl get ses -w                         # watch`),
    )
    .action(
      act(async (args: string[], o: object, cmd: Command) => (await import('./commands/get.js')).runGet(args, o, globals(cmd))),
    );

  sub('apply', 'Create or update objects from manifests (server-side apply)')
    .option('-f, --filename <path>', 'a file, a directory, or - for standard input (repeatable)', collect, [])
    .option('-R, --recursive', 'descend into subdirectories of -f directories')
    .option('-l, --selector <selector>', 'apply only the manifests whose labels match')
    .option('--prune', 'delete objects this field manager applied before that match -l and are no longer in the manifests')
    .option('--dry-run [strategy]', '"server": validate and show the outcome, store nothing')
    .option('--field-manager <name>', 'the name applied fields are recorded under', 'skctl')
    .addOption(outputOpt('json|yaml|name'))
    .addHelpText(
      'after',
      examples(`
  skctl apply -f session.yaml
  skctl apply -f manifests/ -R
  cat session.yaml | skctl apply -f -
  skctl apply -f manifests/ -l app=demo --prune   # also delete what was removed from manifests/
  skctl apply -f session.yaml --dry-run=server`),
    )
    .action(act(async (o: object, cmd: Command) => (await import('./commands/apply.js')).runApply(o as never, globals(cmd))));

  sub('describe', 'Show the details of objects: spec, status, conditions and events')
    .argument('[kind-and-names...]', 'KIND [NAME…]')
    .option('-l, --selector <selector>', 'label selector')
    .option('-A, --all-namespaces', 'objects of every namespace')
    .option('--no-show-events', 'leave out the events')
    .addHelpText('after', examples(`
  skctl describe session demo
  skctl describe ws -l team=a`))
    .action(act(async (args: string[], o: object, cmd: Command) => (await import('./commands/describe.js')).runDescribe(args, o, globals(cmd))));

  sub('delete', 'Delete objects by name, label selector, or manifest')
    .argument('[kind-and-names...]', 'KIND NAME…, KIND/NAME …, or KIND with -l/--all')
    .option('-f, --filename <path>', 'delete the objects of these manifests', collect, [])
    .option('-R, --recursive', 'descend into subdirectories of -f directories')
    .option('-l, --selector <selector>', 'delete the objects matching this label selector')
    .option('--all', 'delete every object of the kind in the namespace')
    .option('-A, --all-namespaces', 'with -l or --all: in every namespace')
    .option('--wait [bool]', 'wait until finalizers let the objects go (--wait=false: return at once)', parseBool, true)
    .option('--timeout <duration>', 'how long to wait for the deletion (default: no limit)')
    .option('--ignore-not-found', 'an object that does not exist is not an error')
    .option('--dry-run [strategy]', '"server": check, delete nothing')
    .addOption(new Option('-o, --output <format>', 'output format: name'))
    .addHelpText('after', examples(`
  skctl delete session demo
  skctl delete ses -l team=a
  skctl delete -f session.yaml --ignore-not-found
  skctl delete ws data --wait=false`))
    .action(act(async (args: string[], o: object, cmd: Command) => (await import('./commands/delete.js')).runDelete(args, o as never, globals(cmd))));

  sub('diff', 'Show what apply would change (exit 0: no change, 1: changes, >1: error)')
    .option('-f, --filename <path>', 'a file, a directory, or - for standard input (repeatable)', collect, [])
    .option('-R, --recursive', 'descend into subdirectories of -f directories')
    .option('--field-manager <name>', 'the field manager apply would use', 'skctl')
    .addHelpText('after', examples(`
  skctl diff -f session.yaml
  skctl diff -f manifests/ -R && echo "in sync"`))
    .action(
      act(async (o: object, cmd: Command) => {
        try {
          return await (await import('./commands/diff.js')).runDiff(o as never, globals(cmd));
        } catch (e) {
          process.stderr.write(`${describeError(e)}\n`);
          return 2;
        }
      }),
    );

  sub('wait', 'Wait for a condition on objects, or for their deletion')
    .argument('[kind-and-names...]', 'KIND NAME…, KIND/NAME …, or KIND with -l')
    .requiredOption('--for <condition>', 'condition=TYPE[=STATUS], delete, or jsonpath=\'{PATH}\'[=VALUE]')
    .option('--timeout <duration>', 'give up after this long', '30s')
    .option('-l, --selector <selector>', 'wait for every object matching this label selector')
    .option('-A, --all-namespaces', 'with -l: in every namespace')
    .addHelpText('after', examples(`
  skctl wait session demo --for=condition=Ready --timeout=60s
  skctl wait ses/demo --for=jsonpath='{.status.phase}'=Ready
  skctl wait session demo --for=delete`))
    .action(act(async (args: string[], o: object, cmd: Command) => (await import('./commands/wait.js')).runWait(args, o, globals(cmd))));

  sub('edit', 'Edit an object in $VISUAL / $EDITOR (default vi) and save it')
    .argument('[kind-and-name...]', 'KIND NAME or KIND/NAME')
    .addOption(new Option('-o, --output <format>', 'edit as yaml (default) or json'))
    .addHelpText('after', examples(`
  skctl edit session demo
  EDITOR=nano skctl edit ws data
  skctl edit img base -o json`))
    .action(act(async (args: string[], o: object, cmd: Command) => (await import('./commands/edit.js')).runEdit(args, o, globals(cmd))));

  sub('exec', 'Run a command in a session\'s shell (output streamed, its exit code returned), or open a terminal (-it)')
    .argument('[name-and-command...]', 'NAME -- COMMAND… (one word: a shell command line; several: quoted words)')
    .option('-i, --stdin', 'with -t: your keyboard on the session\'s terminal')
    .option('-t, --tty', 'with -i: an interactive terminal (raw mode, window size follows; Ctrl-] detaches)')
    .option('--timeout <duration>', 'interrupt the command after this long (default: the daemon\'s max_exec_timeout_ms)')
    .addHelpText('after', examples(`
  skctl exec demo -- ls -la /workspace          # words, quoted for the shell as kubectl passes argv
  skctl exec demo -- 'cd /src && make test'     # one word: a command line for the session's shell
  skctl exec demo --timeout 30s -- ./slow.sh    # interrupted after 30s (exit 130)
  skctl exec -it demo                           # a login shell; Ctrl-] detaches
  skctl exec -it demo -- python3                # a program on the terminal; its exit code is skctl's`))
    .action(act(async (args: string[], o: object, cmd: Command) => (await import('./commands/exec.js')).runExec(args, o, globals(cmd))));

  sub('cp', 'Copy files and directories between the local machine and a session')
    .argument('<source>', 'LOCAL, or [NAMESPACE/]NAME:PATH')
    .argument('<destination>', '[NAMESPACE/]NAME:PATH, or LOCAL')
    .option('--no-preserve', 'uploaded files get default permissions instead of the local ones')
    .addHelpText('after', `
A file copied onto an existing directory, or a path ending in "/", goes inside it under its own
name; a directory's contents go into the destination directory (created; merged into when it
exists). Directories travel as tar streams; symlinks are not copied into a session. Relative
session paths are taken from /workspace; a local path with a ":" is written ./a:b.
${examples(`
  skctl cp ./src demo:/workspace/src            # a directory tree into the session
  skctl cp report.csv demo:out/                 # into /workspace/out/report.csv
  skctl cp demo:/workspace/results ./results    # a directory out of the session
  skctl cp team-a/demo:/etc/os-release .        # a session in another namespace (or -n team-a)`)}`)
    .action(act(async (src: string, dst: string, o: object, cmd: Command) => (await import('./commands/cp.js')).runCp(src, dst, o, globals(cmd))));

  sub('stats', 'Show what sessions use: CPU, memory and processes against their limits')
    .argument('[names...]', 'NAME…')
    .addOption(new Option('-o, --output <format>', 'output format: json|yaml (the raw figures)'))
    .option('--no-headers', 'no header row')
    .option('--interval <duration>', 'the window CPU use is measured over', '500ms')
    .addHelpText('after', examples(`
  skctl stats demo                              # NAME  CPU(cores)  MEMORY(bytes)  PIDS
  skctl stats demo other --no-headers
  skctl stats demo -o json --interval 2s`))
    .action(act(async (names: string[], o: object, cmd: Command) => (await import('./commands/stats.js')).runStats(names, o, globals(cmd))));

  registerTui(sub, act);

  sub('api-resources', 'List the kinds the API serves')
    .addOption(new Option('-o, --output <format>', 'output format: name'))
    .option('--no-headers', 'no header row')
    .action(act(async (o: object) => (await import('./commands/api-resources.js')).runApiResources(o)));

  sub('version', 'Print the client and server versions')
    .option('--client', 'the client version only (no request)')
    .addOption(new Option('-o, --output <format>', 'output format: json|yaml'))
    .addHelpText('after', examples(`
  skctl version
  skctl version --client -o json`))
    .action(act(async (o: object, cmd: Command) => (await import('./commands/version.js')).runVersion(o, globals(cmd))));

  const config = sub('config', 'Manage the contexts of the config file (server, API key, namespace)').addHelpText(
    'after',
    examples(`
  skctl config set-context local --server http://127.0.0.1:8080 --api-key "$KEY" --namespace default
  skctl config use-context local
  skctl config get-contexts
  skctl config view --raw`),
  );
  const cfgSub = (name: string, description: string) => config.command(name).description(description).showHelpAfterError(`See 'skctl config ${name} --help' for usage.`);
  const cfg = () => import('./commands/config.js');
  cfgSub('use-context', 'Make a context the current one')
    .argument('<name>')
    .addHelpText('after', examples('  skctl config use-context prod'))
    .action(act(async (name: string, _o: object, cmd: Command) => (await cfg()).useContext(name, globals(cmd))));
  cfgSub('set-context', 'Create a context or change its fields (an empty value removes a field)')
    .argument('[name]')
    .option('--current', 'change the current context')
    .option('--server <url>', 'the daemon\'s URL')
    .option('--api-key <key>', 'the API key')
    .option('--namespace <namespace>', 'the default namespace')
    .option('--insecure-skip-tls-verify [bool]', 'do not verify the server\'s certificate')
    .option('--certificate-authority <file>', 'PEM file of the CA that signed the server\'s certificate')
    .addHelpText('after', examples(`
  skctl config set-context dev --server https://dev.example:8443 --api-key "$KEY" --certificate-authority ca.pem
  skctl config set-context --current --namespace team-a`))
    .action(
      act(async (name: string | undefined, _o: object, cmd: Command) => {
        // --server and --namespace are also program options, which commander matches first
        // wherever they stand: here they name the context's fields, not a connection.
        const g = globals(cmd);
        const own = { ...cmd.opts(), server: g.server, namespace: g.namespace };
        return (await cfg()).setContext(name, own, { config: g.config });
      }),
    );
  cfgSub('delete-context', 'Remove a context')
    .argument('<name>')
    .action(act(async (name: string, _o: object, cmd: Command) => (await cfg()).deleteContext(name, globals(cmd))));
  cfgSub('get-contexts', 'List the contexts (* marks the current one)')
    .argument('[names...]')
    .addOption(new Option('-o, --output <format>', 'output format: name'))
    .option('--no-headers', 'no header row')
    .action(act(async (names: string[], o: object, cmd: Command) => (await cfg()).getContexts(names, o, globals(cmd))));
  cfgSub('current-context', 'Print the current context').action(act(async (_o: object, cmd: Command) => (await cfg()).currentContext(globals(cmd))));
  cfgSub('view', 'Print the configuration (API keys hidden unless --raw)')
    .option('--raw', 'show API keys')
    .option('--minify', 'only the current context')
    .addOption(new Option('-o, --output <format>', 'output format: yaml|json'))
    .action(act(async (o: object, cmd: Command) => (await cfg()).view(o, globals(cmd))));

  sub('completion', 'Print a shell completion script (bash or zsh)')
    .argument('<shell>', 'bash or zsh')
    .addHelpText('after', examples(`
  source <(skctl completion bash)          # in ~/.bashrc
  skctl completion zsh > "\${fpath[1]}/_skctl"`))
    .action(act(async (shell: string) => (await import('./commands/completion.js')).runCompletion(shell)));

  program
    .command('__complete', { hidden: true })
    .argument('[words...]')
    .allowUnknownOption()
    .helpOption(false)
    .action(
      act(async (words: string[]) => {
        const { complete } = await import('./commands/completion.js');
        const cur = words.at(-1) ?? '';
        for (const c of await complete(program, words.slice(0, -1), cur)) process.stdout.write(`${c}\n`);
        return 0;
      }),
    );

  return program;
}

/** Runs skctl with these arguments (without "node skctl"); resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  let code = 0;
  // `skctl __complete …` passes the words through as they are: options are candidates, not flags.
  if (argv[0] === '__complete') argv = ['__complete', '--', ...argv.slice(1)];
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version requests end here with code 0; usage errors were already printed.
      return e.exitCode;
    }
    process.stderr.write(`${describeError(e)}\n`);
    if (process.env.SKCTL_DEBUG && e instanceof Error && !(e instanceof CliError)) process.stderr.write(`${e.stack}\n`);
    return exitCodeOf(e);
  }
}
