// Defaults taken from the daemon's config at admission: a Session without an image gets
// default_image (so tables and clients see what it runs); an explicit image is kept.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GV, SESSIONS, startServer, type TestServer } from './testutil.js';

const bare = (name: string, spec: Record<string, unknown> = {}) => ({ apiVersion: GV, kind: 'Session', metadata: { name }, spec });

describe('config defaults at admission', () => {
  const servers: TestServer[] = [];
  after(async () => {
    for (const s of servers) await s.cleanup();
  });

  it('fills spec.image from default_image on create and apply, and keeps an explicit one', async () => {
    const s = await startServer({ config: { default_image: 'base' } });
    servers.push(s);
    const created = await s.req('POST', SESSIONS, bare('plain'));
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.spec.image, 'base');
    const own = await s.req('POST', SESSIONS, bare('own', { image: 'python' }));
    assert.equal(own.body.spec.image, 'python');
    const applied = await s.req('PATCH', `${SESSIONS}/applied?fieldManager=t`, 'apiVersion: sandkasten.dev/v1\nkind: Session\nmetadata:\n  name: applied\nspec: {}\n', {
      'content-type': 'application/apply-patch+yaml',
    });
    assert.equal(applied.status, 201, applied.text);
    assert.equal(applied.body.spec.image, 'base');
    // Re-applying the same manifest changes nothing: the default does not count as a change.
    const again = await s.req('PATCH', `${SESSIONS}/applied?fieldManager=t`, 'apiVersion: sandkasten.dev/v1\nkind: Session\nmetadata:\n  name: applied\nspec: {}\n', {
      'content-type': 'application/apply-patch+yaml',
    });
    assert.equal(again.body.metadata.resourceVersion, applied.body.metadata.resourceVersion);
    assert.equal(again.body.metadata.generation, 1);
  });

  it('leaves spec.image empty without a configured default', async () => {
    const s = await startServer();
    servers.push(s);
    const created = await s.req('POST', SESSIONS, bare('plain'));
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.spec.image, undefined);
  });
});
