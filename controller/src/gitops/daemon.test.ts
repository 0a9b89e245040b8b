// GitOps in the real daemon binary (--api-only: objects are stored, nothing is realized): the
// config's gitops section, a path relative to the config file, `skctl get gitopssync`, and a
// restart that rewrites nothing and deletes nothing.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, runBin, startDaemon, tempDir } from '../bin/testutil.js';
import { syncObjectName } from './names.js';
import { git, runSkctl, session } from './testutil.js';

const dirs: string[] = [];
after(() => dirs.forEach(removeDir));
const KEY = 'test-key';
const H = { authorization: `Bearer ${KEY}` };

function config(dir: string, gitops: string): string {
  return `listen: "127.0.0.1:0"\napi_key: "${KEY}"\ndata_dir: "${join(dir, 'data')}"\n${gitops}`;
}

describe('gitops in the daemon', () => {
  it('syncs the directory beside the config; skctl shows the GitOpsSync; a restart deletes nothing', async () => {
    const dir = tempDir('sk-gitops-daemon-');
    dirs.push(dir);
    const home = join(dir, 'home');
    mkdirSync(home);
    const manifests = join(dir, 'manifests');
    mkdirSync(manifests);
    writeFileSync(join(manifests, 'a.yaml'), session('a'));
    writeFileSync(join(manifests, 'ws.yaml'), 'apiVersion: sandkasten.dev/v1\nkind: Workspace\nmetadata: {name: data}\n');
    git(manifests, home, ['init', '-q']);
    git(manifests, home, ['add', '.']);
    git(manifests, home, ['commit', '-q', '-m', 'first']);
    const commit = git(manifests, home, ['rev-parse', 'HEAD']).trim();
    const cfg = config(dir, 'gitops:\n  path: manifests\n  prune: true\n');

    let d = await startDaemon({ dir, config: cfg, args: ['--api-only'] });
    const name = syncObjectName(manifests);
    let rv: string;
    try {
      assert.match(d.output(), new RegExp(`gitops: keeping ${manifests} applied \\(GitOpsSync ${name}, prune on\\)`));
      const list = (await (await fetch(`${d.url}/apis/sandkasten.dev/v1/namespaces/default/sessions`, { headers: H })).json()) as { items: { metadata: { name: string } }[] };
      assert.deepEqual(list.items.map((i) => i.metadata.name), ['a']);

      const r = await runSkctl(d.url, KEY, home, ['get', 'gitopssync']);
      assert.equal(r.code, 0, r.stderr);
      const [header, row, ...rest] = r.stdout.trimEnd().split('\n');
      assert.match(header!, /^NAME\s+SYNCED\s+APPLIED\s+PRUNED\s+FAILED\s+COMMIT\s+LAST SYNC$/);
      assert.match(row!, new RegExp(`^${name}\\s+True\\s+2\\s+0\\s+0\\s+${commit.slice(0, 7)}\\s+\\d+s$`));
      assert.deepEqual(rest, []);
      const wide = await runSkctl(d.url, KEY, home, ['get', 'gitops', name, '-o', 'wide']);
      assert.match(wide.stdout, new RegExp(`\\s2\\s+0\\s+main\\s+${manifests}\\n$`));
      const ev = await runSkctl(d.url, KEY, home, ['get', 'events', '--field-selector', `involvedObject.name=${name}`]);
      assert.match(ev.stdout, /Normal\s+Synced\s+\S+\s+applied 2, unchanged 0, pruned 0, failed 0 at commit/);

      const obj = (await (await fetch(`${d.url}/apis/sandkasten.dev/v1/gitopssyncs/${name}`, { headers: H })).json()) as { metadata: { resourceVersion: string } };
      rv = obj.metadata.resourceVersion;
    } finally {
      assert.equal(await d.stop(), 0);
    }

    d = await startDaemon({ dir, config: cfg, args: ['--api-only'] });
    try {
      // Everything written since the first daemon's last sync: the restart's first sync is done
      // before the daemon listens, so this sees all of it.
      for (const resource of ['sessions', 'workspaces']) {
        const text = await (await fetch(`${d.url}/apis/sandkasten.dev/v1/${resource}?watch=1&resourceVersion=${rv}&timeoutSeconds=1`, { headers: H })).text();
        assert.equal(text, '', `no ${resource} written after the restart: ${text}`);
      }
      const obj = (await (await fetch(`${d.url}/apis/sandkasten.dev/v1/gitopssyncs/${name}`, { headers: H })).json()) as { status: { syncCount: number; unchanged: number } };
      assert.equal(obj.status.syncCount, 2);
      assert.equal(obj.status.unchanged, 2);
    } finally {
      assert.equal(await d.stop(), 0);
    }
  });

  it('refuses an invalid gitops section, naming the key', () => {
    const dir = tempDir('sk-gitops-daemon-');
    dirs.push(dir);
    const cfgPath = join(dir, 'c.yaml');
    writeFileSync(cfgPath, config(dir, 'gitops:\n  path: ""\n  interval_seconds: 0\n'));
    const r = runBin(['--config', cfgPath]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /gitops\.path: Required value/);
    assert.match(r.stderr, /gitops\.interval_seconds/);
  });
});
