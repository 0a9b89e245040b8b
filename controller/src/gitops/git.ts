// The git checkout a GitOps directory is part of, if any: its commit and branch for the status,
// and whether a git command is changing the work tree right now (index.lock present), so a sync
// waits for a checkout to finish instead of applying half of it.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export interface GitInfo {
  /** The repository's git directory (absolute). */
  gitDir: string;
  /** HEAD's commit; absent in a repository without commits. */
  commit?: string;
  /** The checked-out branch; absent when HEAD is detached. */
  branch?: string;
}

const GIT_TIMEOUT_MS = 5_000;

function git(dir: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(
      'git',
      // No optional locks: reading must never block (or be blocked by) the user's own git commands.
      ['-C', dir, '-c', 'core.fsmonitor=false', ...args],
      { timeout: GIT_TIMEOUT_MS, env: { ...process.env, GIT_OPTIONAL_LOCKS: '0', LC_ALL: 'C' }, maxBuffer: 64 * 1024 },
      (err, stdout) => resolve(err ? undefined : stdout),
    );
  });
}

/**
 * The checkout dir belongs to, or undefined when it is not in a git work tree (or git is missing,
 * or refuses the repository, e.g. one owned by another user).
 */
export async function gitInfo(dir: string): Promise<GitInfo | undefined> {
  const out = await git(dir, ['rev-parse', '--absolute-git-dir', 'HEAD', '--abbrev-ref', 'HEAD']);
  if (out === undefined) {
    // A repository without commits has no HEAD to resolve, but is still a checkout.
    const gitDir = (await git(dir, ['rev-parse', '--absolute-git-dir']))?.trim();
    return gitDir ? { gitDir } : undefined;
  }
  const [gitDir, commit, branch] = out.trim().split('\n');
  if (!gitDir) return undefined;
  return { gitDir, ...(commit && /^[0-9a-f]{40,64}$/.test(commit) ? { commit } : {}), ...(branch && branch !== 'HEAD' ? { branch } : {}) };
}

/** Is a git command writing the work tree or index of this repository right now? */
export function gitBusy(info: GitInfo | undefined): boolean {
  return info !== undefined && existsSync(join(info.gitDir, 'index.lock'));
}
