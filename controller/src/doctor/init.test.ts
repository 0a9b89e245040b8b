// `sandkasten init`: a fresh host, a second run, an existing config, concurrent runs, and the
// config text itself.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { getSchema, loadConfigDefaults, validateConfig } from '@sandkasten/api-schemas';
import { loadConfig } from '../config/index.js';
import { readImageMeta } from '../images/index.js';
import { BIN, removeDir, tempDir } from '../bin/testutil.js';
import { DATA_DIR_LAYOUT, generateApiKey, renderConfig } from './init.js';

/** The binary to completion; generous timeout, as test machines run many suites at once. */
function runBin(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const isRoot = process.getuid?.() === 0;
const dirs: string[] = [];
const dir = () => {
  const d = tempDir('sk-init-');
  dirs.push(d);
  return d;
};
after(() => dirs.forEach(removeDir));

/** Without SANDKASTEN_* from the environment the tests run in. */
const cleanEnv = Object.fromEntries(Object.keys(process.env).filter((k) => k.startsWith('SANDKASTEN_')).map((k) => [k, '']));
const init = (args: string[]) => runBin(['init', ...args], cleanEnv);

describe('sandkasten init', () => {
  it('on a fresh host: config with a 64-hex api_key (mode 0600), the data_dir layout, the base image', () => {
    const d = dir();
    const cfg = join(d, 'etc/sandkasten.yaml');
    const data = join(d, 'data');
    const r = init(['--config', cfg, '--data-dir', data]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`wrote ${cfg} \\(mode 0600`));
    assert.match(r.stdout, /image base \(builtin:\/\/host\): prepared/);
    assert.match(r.stdout, /Next steps:/);
    assert.equal(statSync(cfg).mode & 0o777, 0o600);
    const config = loadConfig(cfg, {});
    assert.match(config.api_key, /^[0-9a-f]{64}$/);
    assert.ok(!r.stdout.includes(config.api_key), 'the key is not printed');
    assert.equal(config.data_dir, data);
    assert.equal(config.listen, '127.0.0.1:8080');
    for (const { path, mode } of DATA_DIR_LAYOUT) {
      const st = statSync(join(data, path));
      assert.ok(st.isDirectory(), path);
      assert.equal(st.mode & 0o777, mode, `${path || 'data_dir'} mode`);
    }
    const meta = readImageMeta(data, 'base');
    assert.equal(meta?.source, 'builtin://host');
    assert.ok(existsSync(join(data, 'images/base/rootfs/etc/passwd')));
  });

  it('run again: keeps the config byte for byte, says so, and changes nothing', () => {
    const d = dir();
    const cfg = join(d, 'sk.yaml');
    assert.equal(init(['--config', cfg, '--data-dir', join(d, 'data')]).status, 0);
    const before = readFileSync(cfg, 'utf8');
    const metaMtime = statSync(join(d, 'data/images/base/meta.json')).mtimeMs;
    const r = init(['--config', cfg, '--data-dir', join(d, 'elsewhere')]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(cfg, 'utf8'), before);
    assert.match(r.stdout, /exists: kept as it is \(not overwritten\)/);
    assert.match(r.stdout, /layout in place/);
    assert.match(r.stdout, /image base \(builtin:\/\/host\): up to date/);
    assert.match(r.stdout, /--data-dir ignored/);
    assert.ok(!existsSync(join(d, 'elsewhere')));
    assert.equal(statSync(join(d, 'data/images/base/meta.json')).mtimeMs, metaMtime);
  });

  it('uses the data_dir of an existing hand-written config and notes a missing api_key', () => {
    const d = dir();
    const cfg = join(d, 'sk.yaml');
    writeFileSync(cfg, `data_dir: "${d}/mine"\n`);
    const r = init(['--config', cfg]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(cfg, 'utf8'), `data_dir: "${d}/mine"\n`);
    assert.match(r.stdout, /sets no api_key/);
    assert.ok(existsSync(join(d, 'mine/images/base/meta.json')));
  });

  it('two at once: one config, one key, both succeed', async () => {
    const d = dir();
    const cfg = join(d, 'sk.yaml');
    const run = () =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const c = spawn(process.execPath, [BIN, 'init', '--config', cfg, '--data-dir', join(d, 'data')], { env: { ...process.env, ...cleanEnv } });
        let out = '';
        c.stdout.on('data', (b: Buffer) => (out += b.toString()));
        c.stderr.on('data', (b: Buffer) => (out += b.toString()));
        c.on('exit', (code) => resolve({ code, out }));
      });
    const results = await Promise.all([run(), run()]);
    for (const r of results) assert.equal(r.code, 0, r.out);
    assert.equal(results.filter((r) => r.out.includes('wrote ')).length, 1);
    assert.match(loadConfig(cfg, {}).api_key, /^[0-9a-f]{64}$/);
    assert.ok(readImageMeta(join(d, 'data'), 'base'));
  });

  it('errors: no --config, a relative --data-dir, an invalid existing config, an unwritable place', () => {
    let r = init([]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--config FILE is required/);
    const d = dir();
    r = init(['--config', join(d, 'a.yaml'), '--data-dir', 'relative/data']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--data-dir must be an absolute path/);
    assert.ok(!existsSync(join(d, 'a.yaml')));
    writeFileSync(join(d, 'bad.yaml'), 'listen: [\n');
    r = init(['--config', join(d, 'bad.yaml')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /invalid YAML/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    // data_dir below a regular file cannot be created.
    writeFileSync(join(d, 'file'), '');
    r = init(['--config', join(d, 'c.yaml'), '--data-dir', join(d, 'file/data')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot create .*file\/data/);
    r = init(['--config', join(d, 'x.yaml'), '--bogus']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown argument "--bogus"/);
  });

  it('leaves an existing data_dir mode alone and mentions a loose one', { skip: !isRoot && 'needs root' }, () => {
    const d = dir();
    mkdirSync(join(d, 'data/sessions'), { recursive: true, mode: 0o777 });
    const sessions = join(d, 'data/sessions');
    chmodSync(sessions, 0o777);
    const r = init(['--config', join(d, 'sk.yaml'), '--data-dir', join(d, 'data')]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /sessions has mode 0777; sandkasten makes it 0700/);
    assert.equal(statSync(sessions).mode & 0o777, 0o777);
  });
});

describe('renderConfig', () => {
  it('makes a valid config with the given values', () => {
    const key = generateApiKey();
    const c = parse(renderConfig({ apiKey: key, dataDir: '/srv/sk' })) as Record<string, unknown>;
    assert.deepEqual(c, { listen: '127.0.0.1:8080', api_key: key, data_dir: '/srv/sk' });
    assert.deepEqual(validateConfig(c), { causes: [], unknownFields: [] });
  });

  it('shows every other key, commented out, with its default: uncommented they are the defaults', () => {
    const text = renderConfig({ apiKey: 'k', dataDir: '/var/lib/sandkasten' });
    const props = Object.keys(getSchema('Config').properties as object);
    // A commented key line: "# key: value" or "#   child: value  # description".
    const uncommented = text
      .split('\n')
      .filter((l) => /^# {0,3}[a-z_]+:( |$)/.test(l) && props.concat(['cpu_limit', 'mem_limit_mb', 'pids_limit', 'max_exec_timeout_ms', 'network_mode', 'enabled', 'persist_by_default', 'seccomp', 'images', 'path', 'prune', 'interval_seconds']).includes(/^# *([a-z_]+):/.exec(l)![1]!))
      .map((l) => l.slice(2).replace(/ {2}# .*$/, ''))
      .join('\n');
    const all = { ...(parse(text) as object), ...(parse(uncommented) as object) };
    assert.deepEqual(Object.keys(all).sort(), [...props].sort(), 'every key of the schema is in the file');
    assert.deepEqual(validateConfig(all), { causes: [], unknownFields: [] });
    // The gitops section is the exception: its presence is what turns GitOps on, so it is not a default.
    const { gitops, ...rest } = all as Record<string, unknown>;
    assert.deepEqual(gitops, { path: 'manifests', prune: false, interval_seconds: 60 });
    assert.deepEqual(rest, { ...loadConfigDefaults(), api_key: 'k' });
  });
});
