// A real overlay mount with its upper layer on the data_dir filesystem, in a private mount
// namespace (so nothing can be left mounted on the host): creating a file, deleting one
// (a whiteout) and recreating a deleted directory (an opaque directory, which needs xattrs) are
// what every session's root does.

import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const SCRIPT = `set -e
d="$1"
mount -t overlay overlay -o "lowerdir=$d/lower,upperdir=$d/upper,workdir=$d/work" "$d/merged"
echo new > "$d/merged/new"
rm "$d/merged/file"
rm -r "$d/merged/dir"
mkdir "$d/merged/dir"
if [ -e "$d/merged/file" ]; then echo "a deleted file is still there" >&2; exit 3; fi
if [ -e "$d/merged/dir/inner" ]; then echo "a recreated directory shows its old content (no xattr support for opaque directories)" >&2; exit 3; fi
`;

/** undefined when the probe passed, else what went wrong. */
export function probeOverlay(parent: string): string | undefined {
  let dir: string;
  try {
    dir = mkdtempSync(join(parent, '.sandkasten-doctor-'));
  } catch (e) {
    return `cannot create a probe directory in ${parent}: ${(e as Error).message}`;
  }
  try {
    for (const d of ['lower/dir', 'upper', 'work', 'merged']) mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(join(dir, 'lower/file'), 'lower\n');
    writeFileSync(join(dir, 'lower/dir/inner'), 'lower\n');
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', SCRIPT, 'sh', dir], { encoding: 'utf8', timeout: 10_000 });
    if (r.error) return `cannot run unshare (util-linux): ${r.error.message}`;
    if (r.status !== 0) return (r.stderr.trim() || `exited ${r.status ?? r.signal}`).split('\n').slice(-2).join('; ');
    const wh = lstatSync(join(dir, 'upper/file'), { throwIfNoEntry: false });
    if (!wh?.isCharacterDevice() || wh.rdev !== 0) return 'the overlay did not record a deletion as a whiteout in the upper layer';
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
