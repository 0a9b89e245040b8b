// For the TUI's end-to-end tests: the real skctl binary in an 80×24 tmux pane on a private server
// (`-L`, one per test process, even when the tests run inside tmux), driven with send-keys and
// read with capture-pane under deadlines.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN } from '../testutil.js';

// A tmux of its own even when the tests run inside one.
const TMUX_ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'TMUX' && k !== 'TMUX_PANE'));

export interface Launched {
  /** The TUI's exit code once it ended. */
  exitCode(): string | undefined;
}

export class TmuxHarness {
  readonly socket: string;
  pane = '';
  private launches = 0;

  constructor(name: string) {
    this.socket = `${name}-${process.pid}`;
  }

  tmux = (...args: string[]): string => {
    const r = spawnSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8', timeout: 10_000, env: TMUX_ENV });
    if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr || r.error?.message}`);
    return r.stdout;
  };

  screen = (): string => this.tmux('capture-pane', '-p', '-t', this.pane);
  /** Keys by tmux name (Enter, Escape, Home, C-]) or single characters. */
  keys = (...k: string[]): string => this.tmux('send-keys', '-t', this.pane, ...k);
  /** Literal text, as typed. */
  type = (text: string): string => this.tmux('send-keys', '-t', this.pane, '-l', '--', text);

  /** Polls the pane until `want` holds; the failure shows the screen as it was. */
  waitFor = async (want: RegExp | ((s: string) => boolean), what = String(want), ms = 20_000): Promise<string> => {
    const ok = typeof want === 'function' ? want : (s: string) => want.test(s);
    const deadline = Date.now() + ms;
    let s = '';
    for (;;) {
      s = this.screen();
      if (ok(s)) return s;
      if (Date.now() > deadline) throw new Error(`waited ${ms} ms for ${what}; the screen:\n${s}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  /** Starts `skctl tui ARGS` in a fresh 80×24 pane against `server`; its exit code lands in a file in `dir`. */
  launch = (o: { dir: string; server: string; args?: string[]; stdoutToFile?: boolean }): Launched => {
    const { dir } = o;
    const exitFile = join(dir, `exit-${Date.now()}`);
    const script = join(dir, 'launch.sh');
    writeFileSync(
      script,
      [
        '#!/bin/sh',
        'unset CI SANDKASTEN_NAMESPACE SKCTL_CONFIG',
        `export HOME='${dir}' XDG_CONFIG_HOME='${dir}/config' SANDKASTEN_SERVER='${o.server}' SANDKASTEN_API_KEY=test-key`,
        `'${process.execPath}' '${BIN}' tui ${(o.args ?? []).map((a) => `'${a}'`).join(' ')}${o.stdoutToFile ? ` > '${dir}/stdout'` : ''}`,
        `echo $? > '${exitFile}'`,
        // Keep the pane (and what the command printed) readable after it ended.
        'sleep 600',
      ].join('\n'),
    );
    // A session of its own each time: killing the last session would end the tmux server.
    this.pane = `tui-${++this.launches}`;
    this.tmux('new-session', '-d', '-x', '80', '-y', '24', '-s', this.pane, `sh '${script}'`);
    return { exitCode: () => (existsSync(exitFile) ? readFileSync(exitFile, 'utf8').trim() : undefined) };
  };

  /** Ends the tmux server and everything in its panes, and removes its socket file. */
  kill = (): void => {
    let socketPath = '';
    try {
      socketPath = this.tmux('display-message', '-p', '#{socket_path}').trim();
      this.tmux('kill-server');
    } catch {
      // already gone
    }
    // The server leaves its socket file behind when killed.
    if (socketPath.endsWith(`/${this.socket}`)) rmSync(socketPath, { force: true });
  };
}
