import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyConfigDefaults, applyConfigEnv, configEnvVars, loadConfigDefaults, validateConfig } from './config.js';

test('defaults: what an empty sandkasten.yaml means', () => {
  assert.deepEqual(loadConfigDefaults(), {
    listen: '127.0.0.1:8080',
    api_key: '',
    tls_cert_file: '',
    tls_key_file: '',
    data_dir: '/var/lib/sandkasten',
    node_agent_path: '',
    runner_path: '',
    default_image: 'base',
    allowed_images: [],
    session_ttl_seconds: 1800,
    event_ttl_seconds: 3600,
    defaults: { cpu_limit: 1, mem_limit_mb: 512, pids_limit: 256, max_exec_timeout_ms: 120000, network_mode: 'none' },
    workspace: { enabled: true, persist_by_default: false },
    security: { seccomp: 'mvp' },
    pool: { enabled: false, images: {} },
    dashboard: { enabled: true },
    insecure_registries: [],
    log_level: 'info',
    max_body_bytes: 3145728,
    max_upload_bytes: 1073741824,
  });
  assert.deepEqual(validateConfig(loadConfigDefaults()), { causes: [], unknownFields: [] });
  // Fresh copies: a caller changing one does not change the next.
  const a = loadConfigDefaults();
  a.allowed_images.push('x');
  a.defaults.cpu_limit = 4;
  assert.deepEqual(loadConfigDefaults().allowed_images, []);
  assert.equal(loadConfigDefaults().defaults.cpu_limit, 1);
});

test('applyConfigDefaults keeps what is set and fills the rest', () => {
  const input = { listen: '0.0.0.0:9000', defaults: { mem_limit_mb: 1024 }, pool: { enabled: true, images: { python: 2 } } };
  const c = applyConfigDefaults(input);
  assert.equal(c.listen, '0.0.0.0:9000');
  assert.equal(c.defaults.mem_limit_mb, 1024);
  assert.equal(c.defaults.cpu_limit, 1);
  assert.equal(c.security.seccomp, 'mvp');
  assert.deepEqual(c.pool, { enabled: true, images: { python: 2 } });
  assert.deepEqual(input.defaults, { mem_limit_mb: 1024 }, 'input untouched');
});

test('the example from the original README validates', () => {
  const cfg = {
    listen: '127.0.0.1:8080',
    api_key: 'sk-your-secret-key',
    data_dir: '/var/lib/sandkasten',
    default_image: 'python',
    allowed_images: ['base', 'python', 'node'],
    session_ttl_seconds: 1800,
    defaults: { cpu_limit: 1.0, mem_limit_mb: 512, pids_limit: 256, max_exec_timeout_ms: 120000, network_mode: 'none' },
    workspace: { enabled: true, persist_by_default: false },
  };
  assert.deepEqual(validateConfig(cfg), { causes: [], unknownFields: [] });
  for (const listen of ['[::1]:8080', ':8080', 'localhost:0', '0.0.0.0:65535']) assert.deepEqual(validateConfig({ listen }).causes, [], listen);
});

test('bad config values name the key', () => {
  const r = validateConfig({
    listen: 'localhost',
    data_dir: 'relative/dir',
    session_ttl_seconds: 0,
    defaults: { cpu_limit: 0, mem_limit_mb: '512', network_mode: 'bridged' },
    security: { seccomp: 'on' },
    pool: { images: { python: -1, node: 'two' } },
    log_level: 'verbose',
    allowed_images: ['a', 'a'],
  });
  const byField = Object.fromEntries(r.causes.map((c) => [c.field, `${c.reason}: ${c.message}`]));
  assert.deepEqual(byField, {
    listen: 'FieldValueInvalid: Invalid value: "localhost": must be host:port such as "127.0.0.1:8080" or "[::1]:8080"',
    data_dir: 'FieldValueInvalid: Invalid value: "relative/dir": must be an absolute path',
    session_ttl_seconds: 'FieldValueInvalid: Invalid value: 0: must be greater than or equal to 1',
    'defaults.cpu_limit': 'FieldValueInvalid: Invalid value: 0: must be greater than 0',
    'defaults.mem_limit_mb': 'FieldValueTypeInvalid: Invalid value: "512": must be an integer',
    'defaults.network_mode': 'FieldValueNotSupported: Unsupported value: "bridged": supported values: "none", "bridge", "host"',
    'security.seccomp': 'FieldValueNotSupported: Unsupported value: "on": supported values: "off", "mvp", "strict"',
    'pool.images[python]': 'FieldValueInvalid: Invalid value: -1: must be greater than or equal to 0',
    'pool.images[node]': 'FieldValueTypeInvalid: Invalid value: "two": must be an integer',
    log_level: 'FieldValueNotSupported: Unsupported value: "verbose": supported values: "debug", "info", "warn", "error"',
    'allowed_images[1]': 'FieldValueDuplicate: Duplicate value: "a"',
  });
  assert.equal(validateConfig({ listen: '1.2.3.4:65536' }).causes[0]?.field, 'listen');
  assert.deepEqual(validateConfig({ lisen: 'x', defaults: { cpu: 1 } }).unknownFields, ['lisen', 'defaults.cpu']);
  assert.equal(validateConfig({ node_agent_path: 'build/node-agent' }).causes[0]?.field, 'node_agent_path');
  assert.deepEqual(validateConfig({ node_agent_path: '/opt/sk/node-agent', runner_path: '' }).causes, []);
  assert.equal(validateConfig('listen: x').causes[0]?.reason, 'FieldValueTypeInvalid');
});

test('every key has a SANDKASTEN_* variable', () => {
  const names = configEnvVars().map((v) => v.name);
  for (const n of ['SANDKASTEN_LISTEN', 'SANDKASTEN_API_KEY', 'SANDKASTEN_ALLOWED_IMAGES', 'SANDKASTEN_DEFAULTS_MEM_LIMIT_MB', 'SANDKASTEN_SECURITY_SECCOMP', 'SANDKASTEN_POOL_IMAGES', 'SANDKASTEN_GITOPS_INTERVAL_SECONDS']) {
    assert.ok(names.includes(n), n);
  }
  const leaves = (o: Record<string, unknown>, p = ''): string[] =>
    Object.entries(o).flatMap(([k, v]) =>
      v !== null && typeof v === 'object' && !Array.isArray(v) && k !== 'images' ? leaves(v as Record<string, unknown>, `${p}${k}_`) : [`SANDKASTEN_${p}${k}`.toUpperCase()],
    );
  assert.deepEqual(names.sort(), leaves(applyConfigDefaults({ gitops: {} })).sort());
});

test('gitops: absent is off; present (even empty) is on, with its own defaults', () => {
  assert.equal(loadConfigDefaults().gitops, undefined);
  assert.deepEqual(applyConfigDefaults({ gitops: {} }).gitops, { path: 'manifests', prune: false, interval_seconds: 60 });
  assert.deepEqual(applyConfigDefaults({ gitops: { path: '/srv/m', prune: true } }).gitops, { path: '/srv/m', prune: true, interval_seconds: 60 });
  const byField = (c: unknown) => Object.fromEntries(validateConfig(c).causes.map((x) => [x.field, x.reason]));
  assert.deepEqual(byField({ gitops: { path: '', interval_seconds: 0 } }), { 'gitops.path': 'FieldValueRequired', 'gitops.interval_seconds': 'FieldValueInvalid' });
  assert.deepEqual(validateConfig({ gitops: { enabled: true } }).unknownFields, ['gitops.enabled']);
});

test('applyConfigEnv reads each form and overrides the file', () => {
  const file = { listen: '127.0.0.1:1', defaults: { pids_limit: 5, cpu_limit: 3 } };
  const r = applyConfigEnv(file, {
    SANDKASTEN_LISTEN: '0.0.0.0:8080',
    SANDKASTEN_API_KEY: ' key with spaces ',
    SANDKASTEN_DEFAULTS_CPU_LIMIT: '2.5',
    SANDKASTEN_DEFAULTS_MEM_LIMIT_MB: '1024',
    SANDKASTEN_ALLOWED_IMAGES: 'base, python,,node',
    SANDKASTEN_POOL_IMAGES: 'python=2, node=1',
    SANDKASTEN_WORKSPACE_ENABLED: 'no',
    SANDKASTEN_GITOPS_PRUNE: 'TRUE',
    HOME: '/root',
  });
  assert.deepEqual(r.causes, []);
  assert.deepEqual(r.config, {
    listen: '0.0.0.0:8080',
    api_key: ' key with spaces ',
    defaults: { pids_limit: 5, cpu_limit: 2.5, mem_limit_mb: 1024 },
    allowed_images: ['base', 'python', 'node'],
    pool: { images: { python: 2, node: 1 } },
    workspace: { enabled: false },
    gitops: { prune: true },
  });
  assert.equal(r.applied.length, 8);
  assert.deepEqual(file, { listen: '127.0.0.1:1', defaults: { pids_limit: 5, cpu_limit: 3 } }, 'input untouched');
  assert.deepEqual(validateConfig(r.config).causes, []);
  assert.deepEqual(applyConfigEnv(undefined, { SANDKASTEN_ALLOWED_IMAGES: '' }).config, { allowed_images: [] });
});

test('applyConfigEnv reports unreadable values by variable name', () => {
  const r = applyConfigEnv({}, {
    SANDKASTEN_SESSION_TTL_SECONDS: '30m',
    SANDKASTEN_DEFAULTS_CPU_LIMIT: '',
    SANDKASTEN_WORKSPACE_ENABLED: 'maybe',
    SANDKASTEN_POOL_IMAGES: 'python',
    SANDKASTEN_DEFAULTS_PIDS_LIMIT: '1.5',
  });
  assert.deepEqual(r.config, {});
  assert.deepEqual(
    r.causes.map((c) => `${c.field}: ${c.message}`).sort(),
    [
      'SANDKASTEN_DEFAULTS_CPU_LIMIT: Invalid value: "": must be a number',
      'SANDKASTEN_DEFAULTS_PIDS_LIMIT: Invalid value: "1.5": must be an integer',
      'SANDKASTEN_POOL_IMAGES: Invalid value: "python": must be a comma-separated list of key=value pairs',
      'SANDKASTEN_SESSION_TTL_SECONDS: Invalid value: "30m": must be an integer',
      'SANDKASTEN_WORKSPACE_ENABLED: Invalid value: "maybe": must be true or false',
    ],
  );
  assert.equal(applyConfigEnv({}, { SANDKASTEN_POOL_IMAGES: 'a=x' }).causes[0]?.message, 'Invalid value: "a=x": "a=x" must be an integer');
});
