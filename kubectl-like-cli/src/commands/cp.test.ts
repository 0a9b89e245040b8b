// skctl cp against the real daemon binary with real sandboxes: files and directory trees both
// ways with identical content, where things land (kubectl cp's rules), namespaces, clear errors.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SandboxClient, type SandboxSession } from '@sandkasten/client';
import { removeDir, startDaemon, tempDir, type Daemon } from '@sandkasten/controller/dist/bin/testutil.js';
import { sandboxSkip } from '@sandkasten/controller/dist/controllers/session-testutil.js';
import { runSkctl } from '../testutil.js';
import { parseRemote } from './cp.js';

test('parseRemote: NAME:PATH and NS/NAME:PATH are the session\'s, anything else is local', () => {
  assert.deepEqual(parseRemote('box:/x'), { namespace: undefined, name: 'box', path: '/x' });
  assert.deepEqual(parseRemote('team-a/box:rel/y'), { namespace: 'team-a', name: 'box', path: 'rel/y' });
  assert.equal(parseRemote('./a:b'), undefined);
  assert.equal(parseRemote('/abs/a:b'), undefined);
  assert.equal(parseRemote('plain.txt'), undefined);
  assert.equal(parseRemote('C:/x'), undefined, 'not a session name (uppercase)');
  assert.throws(() => parseRemote('box:'), /a path in the session is required/);
});

describe('skctl cp (daemon, real sandboxes)', { skip: sandboxSkip, timeout: 180_000 }, () => {
  let dir: string;
  let home: string;
  let daemon: Daemon;
  let env: Record<string, string>;
  let client: SandboxClient;
  let box: SandboxSession;

  before(async () => {
    dir = tempDir('skctl-cp-');
    home = mkdtempSync(join(tmpdir(), 'skctl-cp-home-'));
    daemon = await startDaemon({ dir });
    client = new SandboxClient({ baseUrl: daemon.url, apiKey: 'test-key' });
    box = await client.createSession({ name: 'box' });
    env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, XDG_CONFIG_HOME: join(home, 'config'), SANDKASTEN_SERVER: daemon.url, SANDKASTEN_API_KEY: 'test-key' };
  });
  after(async () => {
    if (client) {
      for (const s of await client.listSessions({ allNamespaces: true }).catch(() => [])) await s.destroy().catch(() => undefined);
      client.close();
    }
    await daemon?.stop();
    if (dir) removeDir(dir);
    if (home) rmSync(home, { recursive: true, force: true });
  });

  const skctl = (...args: string[]) => runSkctl(args, { ...env }, undefined, 60_000);
  const ok = async (...args: string[]) => {
    const r = await skctl(...args);
    assert.equal(r.code, 0, `skctl ${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    return r;
  };

  test('a file both ways: exact path, into a directory, mode kept, content identical', async () => {
    const f = join(home, 'data.bin');
    writeFileSync(f, randomBytes(1_500_000));
    chmodSync(f, 0o640);
    await ok('cp', f, 'box:/srv/data.bin');
    assert.equal((await box.exec('stat -c %a /srv/data.bin')).output, '640\n');
    await ok('cp', f, 'box:/srv/in/');
    await box.mkdir('/srv/existing');
    await ok('cp', f, 'box:/srv/existing');
    assert.equal((await box.exec('ls /srv/in /srv/existing')).output, '/srv/existing:\ndata.bin\n\n/srv/in:\ndata.bin\n');
    await ok('cp', f, 'box:rel.bin');
    assert.equal((await box.stat('/workspace/rel.bin')).size, 1_500_000, 'relative to /workspace');

    const back = join(home, 'back.bin');
    await ok('cp', 'box:/srv/data.bin', back);
    assert.ok(readFileSync(back).equals(readFileSync(f)));
    mkdirSync(join(home, 'into'));
    await ok('cp', 'box:/srv/in/data.bin', join(home, 'into'));
    assert.ok(readFileSync(join(home, 'into/data.bin')).equals(readFileSync(f)));
  });

  test('a directory tree both ways: same names, same bytes', async () => {
    const src = join(home, 'tree');
    mkdirSync(join(src, 'a/b'), { recursive: true });
    mkdirSync(join(src, 'empty'));
    writeFileSync(join(src, 'top.txt'), 'top\n');
    writeFileSync(join(src, 'a/b/deep.bin'), randomBytes(200_000));
    writeFileSync(join(src, 'a/x.sh'), 'echo x\n');
    chmodSync(join(src, 'a/x.sh'), 0o755);
    await ok('cp', src, 'box:/srv/tree');
    assert.equal((await box.exec('cd /srv/tree && find . | LC_ALL=C sort')).output, '.\n./a\n./a/b\n./a/b/deep.bin\n./a/x.sh\n./empty\n./top.txt\n');

    const dest = join(home, 'tree-back');
    await ok('cp', 'box:/srv/tree', dest);
    assert.deepEqual(tree(dest), tree(src));
    for (const p of ['top.txt', 'a/b/deep.bin', 'a/x.sh']) assert.ok(readFileSync(join(dest, p)).equals(readFileSync(join(src, p))), p);
    assert.equal(statSync(join(dest, 'a/x.sh')).mode & 0o777, 0o755);
    // Merged into an existing directory.
    await ok('cp', 'box:/srv/tree/a', dest);
    assert.ok(statSync(join(dest, 'x.sh')).isFile());
  });

  test('another namespace: NS/NAME:PATH or -n', async () => {
    await client.createSession({ name: 'other', namespace: 'team-a' });
    const f = join(home, 'ns.txt');
    writeFileSync(f, 'in team-a\n');
    await ok('cp', f, 'team-a/other:/tmp/ns.txt');
    await ok('-n', 'team-a', 'cp', 'other:/tmp/ns.txt', join(home, 'ns-back.txt'));
    assert.equal(readFileSync(join(home, 'ns-back.txt'), 'utf8'), 'in team-a\n');
    const r = await skctl('cp', f, 'other:/tmp/x');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error from server \(NotFound\): .*"other" not found/, 'not in the default namespace');
  });

  test('errors: clear messages, exit 1, nothing half-written', async () => {
    let r = await skctl('cp', 'a', 'b');
    assert.equal(r.stderr, 'error: one side of cp must be a session path: NAME:PATH or NAMESPACE/NAME:PATH\n');
    r = await skctl('cp', 'box:/a', 'box:/b');
    assert.match(r.stderr, /one side of cp must be local/);
    r = await skctl('cp', join(home, 'missing'), 'box:/x');
    assert.equal(r.stderr, `error: ${join(home, 'missing')}: no such file or directory\n`);
    r = await skctl('cp', 'box:/missing', join(home, 'm'));
    assert.equal(r.stderr, 'error: box:/missing: no such file or directory\n');
    r = await skctl('cp', 'box:/dev/null', join(home, 'null'));
    assert.match(r.stderr, /a char, not a file or directory/);
    r = await skctl('cp', 'nope:/x', home);
    assert.match(r.stderr, /NotFound/);
    for (const x of [r]) assert.equal(x.code, 1);
    assert.deepEqual(readdirSync(home).filter((n) => n.includes('.part-')), []);
    r = await skctl('cp', '--help');
    assert.match(r.stdout, /Examples:\n {2}skctl cp \.\/src demo:\/workspace\/src/);
  });
});

function tree(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, rel)).sort()) {
    const p = rel ? `${rel}/${name}` : name;
    out.push(p);
    if (statSync(join(root, p)).isDirectory()) out.push(...tree(root, p));
  }
  return out;
}
