// GET …/sessions/{name}/attach, upgraded to a WebSocket: an interactive terminal in the sandbox.
// The controller holds a PTY (node-pty) whose process is `node-agent exec` of a login shell in the
// session's sandbox; the shell's session has the PTY as its controlling terminal, so job control,
// Ctrl-C and window sizes work as in any terminal.
//
// Frames: binary both ways carry raw terminal bytes; text frames carry JSON control messages —
// from the client {"type":"resize","cols":N,"rows":N}; from the server {"type":"exit","exitCode":N,
// "signal":N|null} before it closes, and {"type":"error","message":"…"}. Closing the socket hangs
// the terminal up (SIGHUP to the shell and its jobs); what is still alive 2 s later is killed. A
// peer that stops answering pings (30 s apart) is treated as gone.

import { readFileSync } from 'node:fs';
import type { Request, Response } from 'express';
import { spawn as ptySpawn, type IPty } from 'node-pty';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { errors } from '../apiserver/errors.js';
import { ApiRequest } from '../apiserver/request.js';
import { isUpgrade, takeUpgrade } from '../apiserver/upgrade.js';
import type { SubresourceContext } from './context.js';
import type { SandboxLocation } from './session.js';

export interface TerminalCommand {
  file: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
}

/** The process a terminal runs for a sandbox (on the host, with the PTY as its stdio). */
export type TerminalCommandFn = (location: SandboxLocation, opts: { term: string }) => TerminalCommand;

/** bash when the image has it, else sh; a login shell either way. */
export const LOGIN_SHELL = 'if command -v bash >/dev/null 2>&1; then exec bash -l; fi; exec sh -l';

/** `node-agent exec` of a login shell in the sandbox. */
export function nodeAgentTerminal(nodeAgentPath: string): TerminalCommandFn {
  return (loc, { term }) => ({
    file: nodeAgentPath,
    args: ['--root', loc.agentRoot, 'exec', '-e', `TERM=${term}`, loc.containerId, '--', '/bin/sh', '-c', LOGIN_SHELL],
  });
}

const TERM = 'xterm-256color';
/** Output queued for a slow client past this pauses the PTY (the shell then blocks writing). */
const HIGH_WATER = 1 << 20;
const LOW_WATER = 256 << 10;
/** After the hang-up, processes of the terminal still alive this much later are killed. */
export const KILL_GRACE_MS = 2000;
const MAX_DIM = 1000;
/** A terminal whose peer answers no ping for this long (two intervals) is closed. */
const PING_INTERVAL_MS = 30_000;

function dim(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_DIM ? v : undefined;
}

/** Children of pid (needs CONFIG_PROC_CHILDREN; empty when unavailable). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function killQuietly(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export interface AttachOptions {
  terminal: TerminalCommandFn;
}

export function attachHandler(ctx: SubresourceContext, opts: AttachOptions) {
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: 1 << 20,
    // The bearer-token subprotocol never reaches here (upgrade.ts takes it out); echo the first other.
    handleProtocols: (protocols) => {
      for (const p of protocols) return p;
      return false;
    },
  });

  const serve = (ws: WebSocket, loc: SandboxLocation, touch: () => void, cols: number, rows: number) => {
    const cmd = opts.terminal(loc, { term: TERM });
    let p: IPty;
    try {
      p = ptySpawn(cmd.file, cmd.args, {
        name: TERM,
        cols,
        rows,
        cwd: cmd.cwd ?? '/',
        env: cmd.env ?? { PATH: process.env.PATH ?? '/usr/bin:/bin', TERM },
        encoding: null,
      });
    } catch (e) {
      ws.send(JSON.stringify({ type: 'error', message: `cannot start the terminal: ${(e as Error).message}` }));
      ws.close(1011, 'cannot start the terminal');
      return;
    }
    let exited = false;
    let paused = false;
    let killTimer: NodeJS.Timeout | undefined;
    const resumeWhenDrained = () => {
      if (paused && ws.bufferedAmount < LOW_WATER) {
        paused = false;
        p.resume();
      }
    };
    p.onData((d) => {
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send(d as unknown as Buffer, { binary: true }, resumeWhenDrained);
      if (!paused && ws.bufferedAmount > HIGH_WATER) {
        paused = true;
        p.pause();
      }
    });
    p.onExit(({ exitCode, signal }) => {
      exited = true;
      clearTimeout(killTimer);
      if (ws.readyState === WebSocket.OPEN) {
        ws.send(JSON.stringify({ type: 'exit', exitCode, signal: signal || null }));
        ws.close(1000, 'the terminal process exited');
      }
    });
    ws.on('message', (data, isBinary) => {
      touch();
      if (exited) return;
      if (isBinary) {
        p.write(toBuffer(data));
        return;
      }
      let msg: { type?: unknown; cols?: unknown; rows?: unknown };
      try {
        msg = JSON.parse(toBuffer(data).toString('utf8')) as typeof msg;
      } catch {
        ws.send(JSON.stringify({ type: 'error', message: 'text frames carry JSON control messages; terminal input goes in binary frames' }));
        return;
      }
      if (msg?.type === 'resize') {
        const c = dim(msg.cols);
        const r = dim(msg.rows);
        if (c === undefined || r === undefined) {
          ws.send(JSON.stringify({ type: 'error', message: `resize needs integer cols and rows between 1 and ${MAX_DIM}` }));
          return;
        }
        p.resize(c, r);
        return;
      }
      ws.send(JSON.stringify({ type: 'error', message: `unknown control message type ${JSON.stringify(msg?.type)}` }));
    });
    ws.on('error', () => {});
    // A peer that vanished without closing (a dropped network) must not keep the shell forever.
    let alive = true;
    ws.on('pong', () => (alive = true));
    const pinger = setInterval(() => {
      if (!alive) {
        ws.terminate();
        return;
      }
      alive = false;
      ws.ping();
    }, PING_INTERVAL_MS);
    pinger.unref();
    ws.on('close', () => {
      clearInterval(pinger);
      if (exited) return;
      const pid = p.pid;
      // The hang-up: SIGHUP reaches node-agent, which passes it on to the shell, which passes it to its jobs.
      // destroy() (not in the typings) closes the master, then sends SIGHUP; kill() only signals.
      const destroy = (p as unknown as { destroy?: () => void }).destroy;
      if (destroy) destroy.call(p);
      else p.kill('SIGHUP');
      killTimer = setTimeout(() => {
        if (exited) return;
        for (const c of childrenOf(pid)) killQuietly(c, 'SIGKILL');
        killQuietly(pid, 'SIGKILL');
      }, KILL_GRACE_MS);
      killTimer.unref();
    });
  };

  return async (req: Request, _res: Response): Promise<void> => {
    if (!isUpgrade(req)) throw errors.badRequest('attach is a WebSocket: send GET with Connection: Upgrade and Upgrade: websocket');
    const call = new ApiRequest(req);
    const cols = call.int('cols', 1) ?? 80;
    const rows = call.int('rows', 1) ?? 24;
    if (cols > MAX_DIM || rows > MAX_DIM) throw errors.badRequest(`cols and rows must be at most ${MAX_DIM}`);
    const { ns, name } = ctx.target(req);
    const { session, location } = await ctx.resolver.ready(ns, name);
    ctx.activity.touch(session);
    const up = takeUpgrade(req)!;
    wss.handleUpgrade(req, up.socket, up.head, (ws) => serve(ws, location, () => ctx.activity.touch(session), cols, rows));
  };
}
