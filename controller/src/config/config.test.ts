import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configEnvVars } from '@sandkasten/api-schemas';
import { ConfigError, loadConfig } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'sk-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('config', () => {
  it('reads the seed-style file and fills defaults', () => {
    const c = loadConfig(file('a.yaml', 'listen: "127.0.0.1:9000"\napi_key: "sk-x"\ndata_dir: "/srv/sk"\n'), {});
    assert.equal(c.listen, '127.0.0.1:9000');
    assert.equal(c.api_key, 'sk-x');
    assert.equal(c.data_dir, '/srv/sk');
    assert.equal(c.session_ttl_seconds, 1800);
    assert.equal(c.defaults.mem_limit_mb, 512);
    const d = loadConfig(undefined, {});
    assert.equal(d.listen, '127.0.0.1:8080');
    assert.equal(loadConfig(file('empty.yaml', ''), {}).data_dir, '/var/lib/sandkasten');
  });

  it('lets SANDKASTEN_* variables override every key, typed by the schema', () => {
    const c = loadConfig(file('b.yaml', 'listen: "127.0.0.1:9000"\napi_key: "file"\n'), {
      SANDKASTEN_LISTEN: '127.0.0.1:9001',
      SANDKASTEN_API_KEY: 'env',
      SANDKASTEN_DATA_DIR: '/env/dir',
      SANDKASTEN_ALLOWED_IMAGES: 'base, python',
      SANDKASTEN_SESSION_TTL_SECONDS: '60',
      SANDKASTEN_DEFAULTS_CPU_LIMIT: '0.5',
      SANDKASTEN_WORKSPACE_ENABLED: 'false',
      SANDKASTEN_POOL_IMAGES: 'python=2, node=1',
    });
    assert.equal(c.listen, '127.0.0.1:9001');
    assert.equal(c.api_key, 'env');
    assert.equal(c.data_dir, '/env/dir');
    assert.deepEqual(c.allowed_images, ['base', 'python']);
    assert.equal(c.session_ttl_seconds, 60);
    assert.equal(c.defaults.cpu_limit, 0.5);
    assert.equal(c.workspace.enabled, false);
    assert.deepEqual(c.pool.images, { python: 2, node: 1 });
    assert.equal(loadConfig(file('c.yaml', 'api_key: "file"\n'), { SANDKASTEN_API_KEY: '' }).api_key, '', 'an empty variable still overrides');
    assert.ok(configEnvVars().some((v) => v.name === 'SANDKASTEN_DEFAULTS_MEM_LIMIT_MB'));
  });

  it('names the key in every error', () => {
    const err = (f: () => unknown, re: RegExp, key?: string) =>
      assert.throws(f, (e: unknown) => e instanceof ConfigError && re.test(e.message) && (key === undefined || e.key === key));
    err(() => loadConfig(file('d.yaml', 'defaults:\n  mem_limit_mb: -1\n'), {}), /defaults\.mem_limit_mb/, 'defaults.mem_limit_mb');
    err(() => loadConfig(file('e.yaml', 'data_dir: relative/path\n'), {}), /data_dir/, 'data_dir');
    err(() => loadConfig(file('f.yaml', 'bogus: 1\n'), {}), /unknown key "bogus"/, 'bogus');
    err(() => loadConfig(file('g.yaml', '- a\n- b\n'), {}), /must be a mapping/);
    err(() => loadConfig(file('h.yaml', 'listen: "a\n'), {}), /h\.yaml:\d+:\d+: invalid YAML/);
    err(() => loadConfig(file('i.yaml', ''), { SANDKASTEN_SESSION_TTL_SECONDS: '1.5' }), /SANDKASTEN_SESSION_TTL_SECONDS.*integer/, 'SANDKASTEN_SESSION_TTL_SECONDS');
    err(() => loadConfig(file('i2.yaml', ''), { SANDKASTEN_WORKSPACE_ENABLED: '' }), /^SANDKASTEN_WORKSPACE_ENABLED: .*true or false/, 'SANDKASTEN_WORKSPACE_ENABLED');
    err(() => loadConfig(file('i3.yaml', ''), { SANDKASTEN_POOL_IMAGES: 'python=many' }), /^SANDKASTEN_POOL_IMAGES: .*must be an integer/, 'SANDKASTEN_POOL_IMAGES');
    // A value that reads but does not validate names the key and the variable that set it.
    err(() => loadConfig(file('j.yaml', ''), { SANDKASTEN_LISTEN: 'nonsense' }), /j\.yaml: listen: .*\(set by SANDKASTEN_LISTEN\)$/, 'listen');
    err(() => loadConfig(file('j2.yaml', ''), { SANDKASTEN_POOL_IMAGES: 'python=99' }), /pool\.images\[python\]: .*\(set by SANDKASTEN_POOL_IMAGES\)$/);
    err(() => loadConfig(file('j3.yaml', 'listen: nonsense\n'), {}), /j3\.yaml: listen: [^(]*$/, 'listen');
    err(() => loadConfig(join(dir, 'absent.yaml'), {}), /cannot read config file .*absent\.yaml: no such file/);
  });
});
