// The TUI's Ink component: one screen, a line shorter than the terminal — a title line, the body
// (the sessions table, a session's details, the exec transcript, or the help), a message line (two
// for a long one) and a key-hint line that turns into a prompt or a y/N question when one is asked.
//
// Written with createElement (aliased h) rather than JSX: the package compiles .ts files only.

import { Box, Text, useApp, useInput, useStdout, type Key } from 'ink';
import { createElement as h, useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore, type ReactElement } from 'react';
import type { Event, SandboxClient, Session } from '@sandkasten/client';
import type { GitOpsSync } from '@sandkasten/api-schemas';
import { describeError } from '../errors.js';
import { execStream } from './exec.js';
import type { FeedFilter, SessionFeed } from './feed.js';
import type { GitOpsFeed } from './gitops.js';
import { gitopsDetailsLines, gitopsEmptyText, gitopsTableLines } from './gitops-views.js';
import { compareSessions, sessionKey, truncate, type Line, type Seg } from './format.js';
import type { StatsPoller } from './stats.js';
import { editLine, keyInput, keyOf, pasted } from './keys.js';
import { PROMPTS, detailsLines, emptyText, execLines, helpLines, hints, promptLine, tableLines, titleLine, wrapAt, type ExecBlock, type PromptKind, type View } from './views.js';

/** What outlives one Ink instance (the TUI unmounts for a shell and comes back). */
export interface UiModel {
  selectedKey?: string;
  nameFilter: string;
  message?: Message;
  execHistory: string[];
  /** Set while an app is mounted: shows a message from outside (stderr output). */
  notify?: (m: Message) => void;
}

export interface Message {
  text: string;
  error?: boolean;
}

export interface AppProps {
  client: SandboxClient;
  feed: SessionFeed;
  /** The GitOps view's objects; started when the view first opens. */
  gitops: GitOpsFeed;
  stats: StatsPoller;
  model: UiModel;
  /** Shown in the title (the daemon's URL or the context's name). */
  server: string;
  /** The user asked for a shell in this session: the runner unmounts the app and attaches. */
  onShell(s: Session): void;
}

interface ExecState {
  key: string;
  blocks: ExecBlock[];
  input: string;
  running: boolean;
  /** Index into the command history while browsing it with ↑↓; -1: not browsing. */
  history: number;
}

interface Prompt {
  kind: PromptKind;
  text: string;
  /** The name filter when the prompt opened (Esc puts it back). */
  before?: string;
}

const EXEC_OUTPUT_MAX = 256 * 1024;
const EXEC_BLOCKS_MAX = 50;

export function App(props: AppProps): ReactElement {
  const { client, feed, gitops, stats, model } = props;
  const { exit } = useApp();
  const { cols, rows } = useTerminalSize();
  const snap = useSyncExternalStore(feed.subscribe, feed.getSnapshot);
  const gsnap = useSyncExternalStore(gitops.subscribe, gitops.getSnapshot);
  const [, redraw] = useState(0);
  useEffect(() => stats.subscribe(() => redraw((n) => n + 1)), [stats]);
  const now = useNow(1000);

  // State the key handler reads goes through refs as well: keys that arrive in one chunk are
  // handled one after another before React draws again, and each must see the one before it.
  const [view, setView, viewRef] = useSyncState<View>({ kind: 'table' });
  const [selectedKey, setSelectedKey, selectedKeyRef] = useSyncState<string | undefined>(model.selectedKey);
  const [nameFilter, setNameFilter, nameFilterRef] = useSyncState(model.nameFilter);
  const [prompt, setPrompt, promptRef] = useSyncState<Prompt | undefined>(undefined);
  const [confirm, setConfirm, confirmRef] = useSyncState<Session | undefined>(undefined);
  const [gitopsName, setGitopsName, gitopsNameRef] = useSyncState<string | undefined>(undefined);
  const gitopsLastIndex = useRef(0);
  const [message, setMessageState] = useState<Message | undefined>(model.message);
  const [scroll, setScroll] = useState(0);
  const lastIndex = useRef(0);
  /** How far the details can scroll (known once drawn). */
  const maxScroll = useRef(0);

  const setMessage = useCallback((m: Message | undefined) => {
    model.message = m;
    setMessageState(m);
  }, [model]);
  useEffect(() => {
    model.notify = setMessage;
    return () => {
      model.notify = undefined;
    };
  }, [model, setMessage]);
  // Informational messages fade; errors stay until something replaces them.
  useEffect(() => {
    if (!message || message.error) return;
    const t = setTimeout(() => setMessage(undefined), 6000);
    return () => clearTimeout(t);
  }, [message, setMessage]);

  const sessions = useMemo(() => visibleSessions(snap.sessions, nameFilter), [snap.sessions, nameFilter]);

  // The selection follows its session by key; when that goes, the row at the same place.
  let selIndex = selectedKey ? sessions.findIndex((s) => sessionKey(s) === selectedKey) : -1;
  if (selIndex < 0) selIndex = Math.min(lastIndex.current, sessions.length - 1);
  lastIndex.current = Math.max(0, selIndex);
  const selected = selIndex >= 0 ? sessions[selIndex] : undefined;
  useEffect(() => {
    model.selectedKey = selected ? sessionKey(selected) : undefined;
    model.nameFilter = nameFilter;
  });

  // Layout: title, body, message (two lines when long), hints; one line short of the screen so
  // Ink never scrolls it.
  const shownMessage: Message | undefined = snap.error
    ? { text: snap.error, error: true }
    : (view.kind === 'gitops' || view.kind === 'gitops-details') && gsnap.error
      ? { text: gsnap.error, error: true }
      : message;
  const messageRows = shownMessage && shownMessage.text.length > cols ? 2 : 1;
  const height = Math.max(4, rows - 1);
  const bodyHeight = height - 2 - messageRows;
  const tableBody = bodyHeight - 1;
  const offset = Math.max(0, Math.min(selIndex - Math.floor(tableBody / 2), sessions.length - tableBody));
  const visible = sessions.slice(offset, offset + tableBody);

  // Stats for the Ready sessions on screen (and the one whose details are open).
  const detailsKey = view.kind === 'details' ? view.key : undefined;
  const targetsKey = visible
    .concat(detailsKey && snap.sessions.get(detailsKey) ? [snap.sessions.get(detailsKey)!] : [])
    .filter((s) => s.status?.phase === 'Ready' && !s.metadata.deletionTimestamp && s.metadata.uid)
    .map((s) => `${s.metadata.namespace}/${s.metadata.name}/${s.metadata.uid}`)
    .join(',');
  useEffect(() => {
    stats.setTargets(
      targetsKey
        ? targetsKey.split(',').map((k) => {
            const [namespace, name, uid] = k.split('/') as [string, string, string];
            return { namespace, name, uid };
          })
        : [],
    );
  }, [targetsKey, stats]);

  // ---- details: the object from its feed (live), its events by watch ----
  // A session's Events by its uid; a GitOpsSync's (cluster-scoped: its Events live in `default`)
  // by kind and name.
  const [events, setEvents] = useState<{ id: string; items: Map<string, Event>; error?: string } | undefined>();
  const detailsSession = detailsKey ? snap.sessions.get(detailsKey) : undefined;
  const detailsUid = detailsSession?.metadata.uid;
  const eventsOf: { id: string; namespace?: string; fieldSelector: string } | undefined = detailsUid
    ? { id: `uid:${detailsUid}`, namespace: detailsSession?.metadata.namespace, fieldSelector: `involvedObject.uid=${detailsUid}` }
    : view.kind === 'gitops-details'
      ? { id: `gitops:${view.name}`, namespace: 'default', fieldSelector: `involvedObject.kind=GitOpsSync,involvedObject.name=${view.name}` }
      : undefined;
  const eventsId = eventsOf?.id;
  const eventsNs = eventsOf?.namespace;
  const eventsSelector = eventsOf?.fieldSelector;
  useEffect(() => {
    if (!eventsId || !eventsSelector) return;
    const ac = new AbortController();
    setEvents({ id: eventsId, items: new Map() });
    void (async () => {
      try {
        for await (const ev of client.watch('events', { namespace: eventsNs, fieldSelector: eventsSelector, signal: ac.signal })) {
          setEvents((prev) => {
            const items = new Map(prev?.id === eventsId ? prev.items : []);
            if (ev.type === 'DELETED') items.delete(ev.object.metadata.name ?? '');
            else items.set(ev.object.metadata.name ?? '', ev.object);
            return { id: eventsId, items };
          });
        }
      } catch (e) {
        if (!ac.signal.aborted) setEvents({ id: eventsId, items: new Map(), error: (e as Error).message });
      }
    })();
    return () => ac.abort();
  }, [client, eventsId, eventsNs, eventsSelector]);

  // ---- the GitOps list: the selection follows its object by name, like the sessions' ----
  const syncs = useMemo(() => sortedSyncs(gsnap.syncs), [gsnap.syncs]);
  let gitopsIndex = gitopsName ? syncs.findIndex((g) => g.metadata.name === gitopsName) : -1;
  if (gitopsIndex < 0) gitopsIndex = Math.min(gitopsLastIndex.current, syncs.length - 1);
  gitopsLastIndex.current = Math.max(0, gitopsIndex);
  const gitopsOffset = Math.max(0, Math.min(gitopsIndex - Math.floor(tableBody / 2), syncs.length - tableBody));

  // ---- exec ----
  const [exec, setExec, execRef] = useSyncState<ExecState | undefined>(undefined);
  const execAbort = useRef<AbortController | undefined>(undefined);
  useEffect(() => () => execAbort.current?.abort(), []);

  const runCommand = (s: Session, command: string) => {
    const key = sessionKey(s);
    const ac = new AbortController();
    execAbort.current = ac;
    if (model.execHistory[model.execHistory.length - 1] !== command) model.execHistory.push(command);
    const update = (fn: (b: ExecBlock) => ExecBlock) =>
      setExec((e) => {
        if (!e || e.key !== key) return e;
        const blocks = e.blocks.slice();
        blocks[blocks.length - 1] = fn(blocks[blocks.length - 1]!);
        return { ...e, blocks };
      });
    setExec((e) => ({ key, input: '', running: true, history: -1, blocks: [...(e?.key === key ? e.blocks : []), { command, output: '' }].slice(-EXEC_BLOCKS_MAX) }));
    setScroll(0);
    void (async () => {
      try {
        for await (const ev of execStream(client, s.metadata.namespace ?? 'default', s.metadata.name ?? '', command, { signal: ac.signal })) {
          if (ev.type === 'output') update((b) => ({ ...b, output: capOutput(b.output + ev.data) }));
          else update((b) => ({ ...b, result: ev.result }));
        }
        if (ac.signal.aborted) update((b) => (b.result ? b : { ...b, error: 'interrupted' }));
        feed.reportConnection(true);
      } catch (e) {
        if (ac.signal.aborted) update((b) => ({ ...b, error: 'interrupted' }));
        else {
          if (isConnectionError(e)) feed.reportConnection(false, e);
          update((b) => ({ ...b, error: describeError(e) }));
        }
      } finally {
        setExec((e) => (e && e.key === key ? { ...e, running: false } : e));
      }
    })();
  };

  // ---- actions ----
  const applyFilter = (f: FeedFilter) => {
    feed.start(f);
    setSelectedKey(undefined);
    lastIndex.current = 0;
  };
  const requireReady = (s: Session | undefined, what: string): s is Session => {
    if (!s) {
      setMessage({ text: 'no session selected', error: true });
      return false;
    }
    const phase = s.metadata.deletionTimestamp ? 'Terminating' : (s.status?.phase ?? 'Pending');
    if (phase !== 'Ready') {
      setMessage({ text: `cannot ${what}: session ${s.metadata.name} is ${phase}${phase === 'Failed' && s.status?.message ? ` (${s.status.message})` : ''}`, error: true });
      return false;
    }
    return true;
  };
  const doDelete = async (s: Session) => {
    try {
      await client.delete('sessions', s.metadata.name ?? '', { namespace: s.metadata.namespace });
      setMessage({ text: `session ${s.metadata.namespace}/${s.metadata.name} deleted` });
    } catch (e) {
      if (isConnectionError(e)) feed.reportConnection(false, e);
      setMessage({ text: describeError(e), error: true });
    }
  };
  const quit = () => {
    execAbort.current?.abort();
    exit();
  };

  // ---- keys ----
  useInput((input: string, key: Key) => {
    // Keys that arrive in one chunk (typed ahead, sent by a program) are taken one by one; a
    // block of lines pasted into the exec prompt is kept whole and runs as one command.
    const execIdle = viewRef.current.kind === 'exec' && !execRef.current?.running && !promptRef.current && !confirmRef.current;
    if (input.length > 1 && !key.ctrl && !key.meta && !(execIdle && /[\r\n]./.test(input))) {
      for (const ch of input) onKey(keyInput(ch), keyOf(ch));
    } else onKey(input, key);
  });

  function onKey(input: string, key: Key): void {
    const snap = feed.getSnapshot();
    const sessions = visibleSessions(snap.sessions, nameFilterRef.current);
    const view = viewRef.current;
    const prompt = promptRef.current;
    const confirm = confirmRef.current;
    const exec = execRef.current;
    const nameFilter = nameFilterRef.current;
    const ctrlC = key.ctrl && input === 'c';
    if (confirm) {
      setConfirm(undefined);
      if (input === 'y' || input === 'Y') void doDelete(confirm);
      else setMessage({ text: 'delete cancelled' });
      return;
    }
    if (prompt) {
      if (ctrlC || key.escape) {
        if (prompt.kind === 'name') setNameFilter(prompt.before ?? '');
        setPrompt(undefined);
        return;
      }
      if (key.return) {
        const text = prompt.text.trim();
        setPrompt(undefined);
        if (prompt.kind === 'namespace') applyFilter({ ...snap.filter, namespace: text || undefined });
        else if (prompt.kind === 'label') applyFilter({ ...snap.filter, labelSelector: text || undefined });
        else setNameFilter(text);
        return;
      }
      const text = editLine(prompt.text, input, key);
      if (text !== undefined) {
        setPrompt({ ...prompt, text });
        if (prompt.kind === 'name') setNameFilter(text);
      }
      return;
    }

    if (view.kind === 'exec' && exec) {
      if (exec.running) {
        if (ctrlC || key.escape) execAbort.current?.abort();
        return;
      }
      if (key.escape || (ctrlC && exec.input === '')) {
        setView({ kind: 'table' });
        return;
      }
      if (ctrlC) return setExec({ ...exec, input: '' });
      const paste = pasted(input, key);
      if (paste && !paste.submit) return setExec({ ...exec, input: exec.input + paste.text });
      if (key.return || paste?.submit) {
        // A pasted block runs as one command: the shell reads its lines in turn.
        const command = exec.input + (paste?.text ?? '');
        const s = snap.sessions.get(exec.key);
        if (command.trim() && requireReady(s, 'run a command')) runCommand(s, command);
        else setExec({ ...exec, input: command });
        return;
      }
      if (key.upArrow || key.downArrow) {
        const hist = model.execHistory;
        if (hist.length === 0) return;
        let i = exec.history < 0 ? hist.length : exec.history;
        i = key.upArrow ? Math.max(0, i - 1) : i + 1;
        if (i >= hist.length) return setExec({ ...exec, history: -1, input: '' });
        return setExec({ ...exec, history: i, input: hist[i]! });
      }
      if (key.pageUp || key.pageDown) {
        setScroll((s) => Math.max(0, s + (key.pageUp ? 1 : -1) * Math.max(1, bodyHeight - 3)));
        return;
      }
      const text = editLine(exec.input, input, key);
      if (text !== undefined) setExec({ ...exec, input: text });
      return;
    }

    if (ctrlC) return quit();
    if (view.kind === 'help') {
      if (input === 'q' || key.escape || input === '?' || key.return) setView(view.back ?? { kind: 'table' });
      return;
    }
    if (view.kind === 'gitops-details') {
      if (input === 'q' || key.escape || key.leftArrow) return setView({ kind: 'gitops' });
      if (input === 'g') return setView({ kind: 'table' });
      if (key.upArrow || input === 'k') return setScroll((v) => Math.max(0, v - 1));
      if (key.downArrow || input === 'j') return setScroll((v) => Math.min(maxScroll.current, v + 1));
      if (key.pageUp) return setScroll((v) => Math.max(0, v - bodyHeight));
      if (key.pageDown || input === ' ') return setScroll((v) => Math.min(maxScroll.current, v + bodyHeight));
      if (key.home) return setScroll(0);
      return;
    }
    if (view.kind === 'gitops') {
      const list = sortedSyncs(gitops.getSnapshot().syncs);
      const at = list.findIndex((g) => g.metadata.name === gitopsNameRef.current);
      const i = at >= 0 ? at : Math.min(gitopsLastIndex.current, list.length - 1);
      const move = (to: number) => {
        if (list.length === 0) return;
        const j = Math.max(0, Math.min(list.length - 1, to));
        gitopsLastIndex.current = j;
        setGitopsName(list[j]!.metadata.name);
      };
      if (input === 'q') return quit();
      if (key.escape || input === 'g') return setView({ kind: 'table' });
      if (input === '?') return setView({ kind: 'help', back: view });
      if (key.upArrow || input === 'k') return move(i - 1);
      if (key.downArrow || input === 'j') return move(i + 1);
      if (key.pageUp) return move(i - tableBody);
      if (key.pageDown) return move(i + tableBody);
      if (key.home) return move(0);
      if (key.end) return move(list.length - 1);
      if (key.return || input === 'd') {
        const g = i >= 0 ? list[i] : undefined;
        if (!g) return setMessage({ text: 'no GitOpsSync selected', error: true });
        setScroll(0);
        return setView({ kind: 'gitops-details', name: g.metadata.name ?? '' });
      }
      return;
    }
    if (view.kind === 'details') {
      if (input === 'q' || key.escape || key.leftArrow) return setView({ kind: 'table' });
      const s = snap.sessions.get(view.key);
      if (key.upArrow || input === 'k') return setScroll((v) => Math.max(0, v - 1));
      if (key.downArrow || input === 'j') return setScroll((v) => Math.min(maxScroll.current, v + 1));
      if (key.pageUp) return setScroll((v) => Math.max(0, v - bodyHeight));
      if (key.pageDown || input === ' ') return setScroll((v) => Math.min(maxScroll.current, v + bodyHeight));
      if (key.home) return setScroll(0);
      if (input === 'x' && requireReady(s, 'run a command')) return openExec(s);
      if (input === 's' && requireReady(s, 'open a shell')) return props.onShell(s);
      if ((input === 'D' || key.delete) && s) return setConfirm(s);
      return;
    }

    // the table
    const at = sessions.findIndex((x) => sessionKey(x) === selectedKeyRef.current);
    const selIndex = at >= 0 ? at : Math.min(lastIndex.current, sessions.length - 1);
    const selected = selIndex >= 0 ? sessions[selIndex] : undefined;
    const move = (to: number) => {
      if (sessions.length === 0) return;
      const i = Math.max(0, Math.min(sessions.length - 1, to));
      lastIndex.current = i;
      setSelectedKey(sessionKey(sessions[i]!));
    };
    if (input === 'q') return quit();
    if (key.upArrow || input === 'k') return move(selIndex - 1);
    if (key.downArrow || input === 'j') return move(selIndex + 1);
    if (key.pageUp) return move(selIndex - tableBody);
    if (key.pageDown) return move(selIndex + tableBody);
    if (key.home) return move(0);
    if (key.end) return move(sessions.length - 1);
    if (input === '?') return setView({ kind: 'help' });
    if (key.return || input === 'd') {
      if (!selected) return setMessage({ text: 'no session selected', error: true });
      setScroll(0);
      return setView({ kind: 'details', key: sessionKey(selected) });
    }
    if (input === 'x') {
      if (requireReady(selected, 'run a command')) openExec(selected);
      return;
    }
    if (input === 's') {
      if (requireReady(selected, 'open a shell')) props.onShell(selected);
      return;
    }
    if (input === 'D' || key.delete) {
      if (!selected) return setMessage({ text: 'no session selected', error: true });
      return setConfirm(selected);
    }
    if (input === 'n') return setPrompt({ kind: 'namespace', text: snap.filter.namespace ?? '' });
    if (input === 'A') return applyFilter({ ...snap.filter, namespace: undefined });
    if (input === 'l') return setPrompt({ kind: 'label', text: snap.filter.labelSelector ?? '' });
    if (input === '/') return setPrompt({ kind: 'name', text: nameFilter, before: nameFilter });
    if (input === 'g') {
      gitops.start();
      return setView({ kind: 'gitops' });
    }
    if (key.escape && nameFilter) return setNameFilter('');
  }

  function openExec(s: Session) {
    const key = sessionKey(s);
    setExec((e) => (e?.key === key ? { ...e, input: '' } : { key, blocks: [], input: '', running: false, history: -1 }));
    setScroll(0);
    setView({ kind: 'exec', key });
  }

  // ---- drawing ----
  const inGitops = view.kind === 'gitops' || view.kind === 'gitops-details';
  const title = inGitops
    ? titleLine(props.server, snap.filter, '', syncs.length, syncs.length, snap.connected, view, cols)
    : titleLine(props.server, snap.filter, nameFilter, sessions.length, snap.sessions.size, snap.connected, view, cols);
  let body: Line[];
  if (view.kind === 'help') body = helpLines();
  else if (view.kind === 'details' || view.kind === 'gitops-details') {
    if (view.kind === 'details') {
      const s = snap.sessions.get(view.key);
      if (!s) body = [[{ text: `session ${view.key} is gone`, color: 'magenta' }], [], [{ text: 'Esc: back', dim: true }]];
      else {
        const ev = events?.id === `uid:${s.metadata.uid}` ? events : undefined;
        body = detailsLines(s, ev ? [...ev.items.values()] : undefined, stats.get(s.metadata.uid), now, ev?.error);
      }
    } else {
      const g = gsnap.syncs.get(view.name);
      if (!g) body = [[{ text: `GitOpsSync ${view.name} is gone`, color: 'magenta' }], [], [{ text: 'Esc: back', dim: true }]];
      else {
        const ev = events?.id === `gitops:${view.name}` ? events : undefined;
        body = gitopsDetailsLines(g, ev ? [...ev.items.values()] : undefined, cols, now, ev?.error);
      }
    }
    maxScroll.current = Math.max(0, body.length - bodyHeight);
    body = body.slice(Math.min(scroll, maxScroll.current));
  } else if (view.kind === 'gitops') {
    const t = gitopsTableLines(syncs.slice(gitopsOffset, gitopsOffset + tableBody), cols, gitopsIndex - gitopsOffset, now);
    body = [t.header, ...t.rows];
    if (syncs.length === 0) body.push([{ text: gitopsEmptyText(gsnap.loaded, gsnap.error), dim: true }]);
  } else if (view.kind === 'exec' && exec) {
    const all = execLines(exec.blocks);
    const room = bodyHeight - 1;
    const end = Math.max(0, all.length - Math.min(scroll, Math.max(0, all.length - room)));
    body = all.slice(Math.max(0, end - room), end);
    while (body.length < room) body.push([]);
    body.push(promptLine(exec.running ? undefined : exec.input, exec.running));
  } else {
    const t = tableLines(visible, (s) => stats.get(s.metadata.uid), cols, selIndex - offset, now);
    body = [t.header, ...t.rows];
    if (sessions.length === 0) body.push([{ text: emptyText(snap.loaded, snap.error, snap.filter, nameFilter), dim: true }]);
  }

  const msgText = shownMessage?.text.replace(/\s*\n\s*/g, ' ') ?? '';
  const msgColor = shownMessage?.error ? 'red' : 'cyan';
  const messageLines: Line[] =
    messageRows === 2
      ? [[{ text: msgText.slice(0, wrapAt(msgText, cols)), color: msgColor }], [{ text: msgText.slice(wrapAt(msgText, cols)).trimStart(), color: msgColor }]]
      : [msgText ? [{ text: msgText, color: msgColor }] : []];
  const bottom: Line = confirm
    ? [{ text: `Delete session ${confirm.metadata.namespace}/${confirm.metadata.name}? `, color: 'yellow', bold: true }, { text: '(y/N) ' }]
    : prompt
      ? [{ text: PROMPTS[prompt.kind], color: 'cyan', bold: true }, { text: prompt.text }, { text: ' ', inverse: true }, { text: '   Enter: apply  Esc: cancel', dim: true }]
      : hints(view, exec?.running ?? false);

  const lines: Line[] = [title, ...body.slice(0, bodyHeight)];
  while (lines.length < bodyHeight + 1) lines.push([]);
  lines.push(...messageLines, bottom);
  return h(
    Box,
    { flexDirection: 'column', width: cols, height },
    ...lines.map((l, i) => h(LineView, { key: i, line: l, width: cols })),
  );
}

function LineView({ line, width }: { line: Line; width: number }): ReactElement {
  if (line.length === 0) return h(Text, null, ' ');
  // Cut by hand: Ink's own truncation measures the whole line, styles and all.
  let room = width;
  const segs: Seg[] = [];
  for (const s of line) {
    if (room <= 0) break;
    const text = s.text.length > room ? truncate(s.text, room) : s.text;
    room -= text.length;
    segs.push({ ...s, text });
  }
  return h(
    Text,
    { wrap: 'truncate-end' },
    ...segs.map((s, i) => h(Text, { key: i, color: s.color, bold: s.bold, dimColor: s.dim, inverse: s.inverse }, s.text)),
  );
}

function sortedSyncs(all: ReadonlyMap<string, GitOpsSync>): GitOpsSync[] {
  return [...all.values()].sort((a, b) => ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1));
}

function visibleSessions(all: ReadonlyMap<string, Session>, nameFilter: string): Session[] {
  const list = [...all.values()].sort(compareSessions);
  return nameFilter ? list.filter((s) => (s.metadata.name ?? '').includes(nameFilter)) : list;
}

function capOutput(s: string): string {
  if (s.length <= EXEC_OUTPUT_MAX) return s;
  const cut = s.indexOf('\n', s.length - EXEC_OUTPUT_MAX);
  return `[…]\n${s.slice(cut >= 0 ? cut + 1 : s.length - EXEC_OUTPUT_MAX)}`;
}

function isConnectionError(e: unknown): boolean {
  return (e as Error | null)?.name === 'ConnectionError';
}

function useTerminalSize(): { cols: number; rows: number } {
  const { stdout } = useStdout();
  const get = () => ({ cols: stdout.columns || 80, rows: stdout.rows || 24 });
  const [size, setSize] = useState(get);
  useEffect(() => {
    const on = () => setSize(get());
    stdout.on('resize', on);
    return () => {
      stdout.off('resize', on);
    };
  }, [stdout]);
  return size;
}

function useNow(ms: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

/** useState whose latest value is also in a ref, set synchronously (for event handlers). */
function useSyncState<T>(initial: T): [T, (next: T | ((prev: T) => T)) => void, { readonly current: T }] {
  const [value, setValue] = useState(initial);
  const ref = useRef(value);
  const set = useCallback((next: T | ((prev: T) => T)) => {
    ref.current = typeof next === 'function' ? (next as (prev: T) => T)(ref.current) : next;
    setValue(ref.current);
  }, []);
  return [value, set, ref];
}
