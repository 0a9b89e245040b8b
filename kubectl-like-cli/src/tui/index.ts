// skctl tui: the Ink terminal UI. Owns the terminal for its lifetime (raw mode, the alternate
// screen), runs the sessions feed and the stats poller, and alternates between the Ink app and
// an attached shell: for a shell the app is unmounted, the terminal handed to the WebSocket, and
// the app drawn again when the shell ends — with its filters and selection as they were.

import { readFileSync } from 'node:fs';
import { makeClient, type GlobalOptions } from '../connection.js';
import { CliError } from '../errors.js';
import { parseDuration } from '../util.js';
import { openAttach, runTerminal, type AttachEnd, type AttachTarget } from './attach.js';
import { SessionFeed } from './feed.js';
import { GitOpsFeed } from './gitops.js';
import { StatsPoller } from './stats.js';
import { Terminal } from './terminal.js';
import type { Session } from '@sandkasten/client';
import type { Message, UiModel } from './app.js';

export interface TuiOptions {
  allNamespaces?: boolean;
  selector?: string;
  /** How often CPU and memory are sampled (a duration, default 3s). */
  refresh?: string;
}

export const NO_TTY = 'skctl tui needs an interactive terminal (stdin and stdout must be a TTY)';

export async function runTui(o: TuiOptions, g: GlobalOptions, stdin: NodeJS.ReadStream = process.stdin, stdout: NodeJS.WriteStream = process.stdout): Promise<number> {
  if (!stdin.isTTY || !stdout.isTTY) throw new CliError(NO_TTY);
  const refreshMs = o.refresh !== undefined ? parseDuration(o.refresh, '--refresh') : 3000;
  if (refreshMs < 500) throw new CliError('--refresh must be at least 500ms');
  // Ink draws only the final frame when it thinks it runs in CI; this command has a TTY by now.
  delete process.env.CI;
  delete process.env.CONTINUOUS_INTEGRATION;
  const [{ render }, React, { App }] = await Promise.all([import('ink'), import('react'), import('./app.js')]);

  const { client, conn } = await makeClient(g);
  const term = new Terminal(stdin, stdout);
  const feed = new SessionFeed(client, { namespace: o.allNamespaces ? undefined : conn.namespace, labelSelector: o.selector });
  const gitops = new GitOpsFeed(client);
  const stats = new StatsPoller(client, refreshMs);
  const model: UiModel = { nameFilter: '', execHistory: [] };
  const target = (s: Session): AttachTarget => ({
    baseUrl: conn.baseUrl,
    apiKey: conn.apiKey,
    namespace: s.metadata.namespace ?? conn.namespace,
    name: s.metadata.name ?? '',
    tls: { ca: conn.certificateAuthority ? readFileSync(conn.certificateAuthority) : undefined, insecureSkipVerify: conn.insecureSkipTlsVerify },
  });

  // Anything written to stderr meanwhile (a server warning) would tear the screen: show it instead.
  const stderrWrite = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = String(chunk).trim();
    if (text) notify(model, { text, error: true });
    const cb = rest.find((x) => typeof x === 'function') as (() => void) | undefined;
    cb?.();
    return true;
  }) as typeof process.stderr.write;
  const restore = () => {
    term.restore();
    process.stderr.write = stderrWrite;
  };
  const onSignal = (sig: NodeJS.Signals) => {
    restore();
    process.exit(128 + (sig === 'SIGHUP' ? 1 : sig === 'SIGINT' ? 2 : 15));
  };
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGINT'];
  for (const s of signals) process.on(s, onSignal);
  process.on('exit', restore);

  try {
    term.setup();
    feed.start();
    stats.start();
    for (;;) {
      const shellFor = await new Promise<Session | undefined>((resolve, reject) => {
        let wanted: Session | undefined;
        const app = render(
          React.createElement(App, {
            client,
            feed,
            gitops,
            stats,
            model,
            server: conn.context ? `${conn.context} (${conn.baseUrl})` : conn.baseUrl,
            onShell: (s: Session) => {
              wanted = s;
              // Not from inside Ink's input handler.
              setImmediate(() => app.unmount());
            },
          }),
          // Not incrementalRendering: in Ink 6.8 it leaves stale lines behind when rows change.
          { stdin: term.inkInput(), stdout, exitOnCtrlC: false, patchConsole: false },
        );
        app.waitUntilExit().then(() => resolve(wanted), reject);
      });
      if (!shellFor) break;
      model.message = await shell(term, target(shellFor));
    }
  } finally {
    feed.stop();
    gitops.stop();
    stats.stop();
    client.close();
    restore();
    for (const s of signals) process.off(s, onSignal);
    process.off('exit', restore);
  }
  return 0;
}

/** An interactive shell on the normal screen; the message to show back in the TUI. */
async function shell(term: Terminal, t: AttachTarget): Promise<Message> {
  const who = `${t.namespace}/${t.name}`;
  term.leaveAltScreen();
  term.stdout.write(`\x1b[?25h\r\n\x1b[1m[attaching to session ${who} — Ctrl-] detaches]\x1b[0m\r\n`);
  const input = term.rawInput();
  let end: AttachEnd;
  try {
    const ws = await openAttach(t, { size: term.size() });
    end = await runTerminal(ws, { input, output: term.stdout, size: () => term.size(), resizeSource: term.stdout });
  } catch (e) {
    return { text: `shell: ${(e as Error).message}`, error: true };
  } finally {
    input.destroy();
    term.enterAltScreen();
  }
  switch (end.reason) {
    case 'exit':
      return { text: `shell in ${who} exited${end.signal ? ` on signal ${end.signal}` : ` with code ${end.exitCode}`}`, error: end.exitCode !== 0 && end.exitCode !== 130 };
    case 'detached':
      return { text: `detached from ${who}` };
    default:
      return { text: `shell in ${who}: ${end.message}`, error: true };
  }
}

function notify(model: UiModel, m: Message): void {
  if (model.notify) model.notify(m);
  else model.message = m;
}
