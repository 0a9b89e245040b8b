// Test helper: opens the store at argv[2] and writes until killed, printing one line per
// acknowledged write ("C|U|D name rv") only after the store returned. Pipes to stdout are
// synchronous on Linux, so a printed line means the write had returned before the next began.

import { openSqliteStore } from '../sqlite-store.js';
import type { ObjectKey, StoredObject } from '../types.js';

const path = process.argv[2];
if (path === undefined) {
  process.stderr.write('usage: burst-writer DB\n');
  process.exit(2);
}
const store = openSqliteStore(path);
const key = (name: string): ObjectKey => ({ resource: 'things', namespace: 'burst', name });
const obj = (name: string, n: number): StoredObject => ({
  apiVersion: 'sandkasten.dev/v1',
  kind: 'Thing',
  metadata: { name, namespace: 'burst', uid: `uid-${name}` },
  spec: { n, pad: 'x'.repeat(200) },
});
process.stdout.write('ready\n');
// Bounded, so a runaway child cannot fill the disk if the test dies without killing it.
for (let i = 0; i < 500_000; i++) {
  const name = `t${i}`;
  const c = store.create(key(name), obj(name, i));
  if (!c.ok) throw new Error(`create ${name}: ${c.reason}`);
  process.stdout.write(`C ${name} ${c.object.metadata.resourceVersion}\n`);
  if (i % 3 === 2) {
    const target = `t${i - 1}`;
    const u = store.update(key(target), obj(target, -i));
    if (!u.ok) throw new Error(`update ${target}: ${u.reason}`);
    process.stdout.write(`U ${target} ${u.object.metadata.resourceVersion}\n`);
  }
  if (i % 5 === 4) {
    const target = `t${i - 4}`;
    const d = store.delete(key(target));
    if (!d.ok) throw new Error(`delete ${target}: ${d.reason}`);
    process.stdout.write(`D ${target} ${d.object.metadata.resourceVersion}\n`);
  }
}
store.close();
