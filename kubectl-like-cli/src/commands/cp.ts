// skctl cp LOCAL [NS/]NAME:PATH and skctl cp [NS/]NAME:PATH LOCAL — files and directory trees in
// and out of a session, streamed (directories as tar), as kubectl cp does for pods.
//
// Where things land: a file copied onto an existing directory (or a path ending in "/") goes
// inside it under its own name, else to the path given; a directory's contents go into the
// destination directory, which is created (and merged into when it exists). Relative paths in the
// session are taken from /workspace.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { posix } from 'node:path';
import { NotFoundError, type SandboxSession } from '@sandkasten/client';
import { makeClient, type GlobalOptions } from '../connection.js';
import { CliError } from '../errors.js';
import { sessionName } from './exec.js';

export interface CpOptions {
  /** false with --no-preserve. */
  preserve?: boolean;
}

interface Remote {
  namespace?: string;
  name: string;
  path: string;
}

/** "NAME:PATH" or "NS/NAME:PATH"; undefined for a local path. */
export function parseRemote(arg: string): Remote | undefined {
  // A local path that contains ":" can be written ./a:b or as an absolute path.
  if (arg.startsWith('/') || arg.startsWith('./') || arg.startsWith('../') || arg === '.' || arg === '..') return undefined;
  const m = /^(?:([a-z0-9][-a-z0-9]*)\/)?([a-z0-9][-a-z0-9.]*):(.*)$/.exec(arg);
  if (!m) return undefined;
  const path = m[3]!;
  if (path === '') throw new CliError(`${JSON.stringify(arg)}: a path in the session is required after ":" (e.g. ${m[2]}:/workspace)`);
  return { namespace: m[1], name: sessionName(m[2]!), path };
}

export async function runCp(src: string, dst: string, o: CpOptions, g: GlobalOptions): Promise<number> {
  const from = parseRemote(src);
  const to = parseRemote(dst);
  if (from && to) throw new CliError('one side of cp must be local: copying between sessions is not supported');
  if (!from && !to) throw new CliError('one side of cp must be a session path: NAME:PATH or NAMESPACE/NAME:PATH');
  const remote = (from ?? to)!;
  if (remote.namespace && g.namespace && remote.namespace !== g.namespace) {
    throw new CliError(`the namespace of ${from ? src : dst} (${remote.namespace}) differs from --namespace ${g.namespace}`);
  }
  const { client, conn } = await makeClient(g);
  try {
    const { SandboxSession } = await import('@sandkasten/client');
    const session = new SandboxSession(client, { apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name: remote.name, namespace: remote.namespace ?? conn.namespace } });
    if (to) await upload(session, src, to.path, o);
    else await download(session, from!.path, dst);
    return 0;
  } finally {
    client.close();
  }
}

async function upload(session: SandboxSession, local: string, remotePath: string, o: CpOptions): Promise<void> {
  const st = await stat(local).catch((e: NodeJS.ErrnoException) => {
    throw new CliError(e.code === 'ENOENT' ? `${local}: no such file or directory` : `${local}: ${e.message}`);
  });
  if (st.isDirectory()) {
    await session.upload(local, remotePath);
    return;
  }
  if (!st.isFile()) throw new CliError(`${local}: not a regular file or directory`);
  let target = remotePath;
  if (target.endsWith('/') || (await remoteType(session, target)) === 'dir') target = posix.join(target, basename(local));
  await session.write(target, createReadStream(local), o.preserve === false ? {} : { mode: st.mode & 0o777 });
}

async function download(session: SandboxSession, remotePath: string, local: string): Promise<void> {
  const type = await remoteType(session, remotePath);
  if (type === undefined) throw new CliError(`${session.name}:${remotePath}: no such file or directory`);
  if (type !== 'file' && type !== 'dir') throw new CliError(`${session.name}:${remotePath}: a ${type}, not a file or directory`);
  let dest = local;
  if (type === 'file' && local.endsWith('/')) dest = join(local, posix.basename(remotePath));
  if (type === 'dir') {
    const st = await stat(local).catch(() => undefined);
    if (st && !st.isDirectory()) throw new CliError(`${local}: exists and is not a directory`);
  }
  await session.download(remotePath, dest);
}

/** The type of a path in the session; undefined when there is nothing. */
async function remoteType(session: SandboxSession, path: string): Promise<string | undefined> {
  try {
    const e = await session.stat(path);
    // A symlink to a directory counts as one (what the sandbox resolves when writing into it).
    if (e.type === 'symlink' && path.endsWith('/')) return 'dir';
    return e.type;
  } catch (e) {
    // A missing path; a missing session is NotFound too, but names its kind.
    if (e instanceof NotFoundError && !e.details?.kind) return undefined;
    throw e;
  }
}
