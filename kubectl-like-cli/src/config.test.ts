// skctl config contexts, connection precedence, version, completion and --help, end to end.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse } from 'yaml';
import { setup, type Env } from './testutil.js';

let e: Env;
before(async () => {
  e = await setup();
  await e.client.create({ apiVersion: 'sandkasten.dev/v1', kind: 'Workspace', metadata: { name: 'in-default' } });
  await e.client.create({ apiVersion: 'sandkasten.dev/v1', kind: 'Workspace', metadata: { name: 'in-team', namespace: 'team' } });
});
after(() => e.cleanup());

/** No server or key from the environment: only the config file speaks. */
const bare = { SANDKASTEN_SERVER: undefined, SANDKASTEN_API_KEY: undefined };

test('contexts: set, use, list, view (keys hidden unless --raw), file 0600 under $XDG_CONFIG_HOME', async () => {
  let r = await e.skctl(['config', 'set-context', 'local', '--server', e.server.url, '--api-key', e.server.apiKey, '--namespace', 'team'], { env: bare });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Context "local" created.\n');
  const file = join(e.dir, 'config', 'sandkasten', 'config.yaml');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(statSync(join(e.dir, 'config', 'sandkasten')).mode & 0o777, 0o700);
  assert.equal((parse(readFileSync(file, 'utf8')) as { 'current-context': string })['current-context'], 'local', 'the first context becomes current');

  r = await e.skctl(['get', 'ws', '-o', 'name'], { env: bare });
  assert.equal(r.stdout, 'workspace.sandkasten.dev/in-team\n', 'server, key and namespace from the context');

  r = await e.skctl(['config', 'set-context', 'broken', '--server', 'http://127.0.0.1:1'], { env: bare });
  assert.equal(r.stdout, 'Context "broken" created.\n');
  r = await e.skctl(['config', 'get-contexts'], { env: bare });
  assert.deepEqual(
    r.stdout.trimEnd().split('\n').map((l) => l.split(/\s+/)),
    [
      ['CURRENT', 'NAME', 'SERVER', 'NAMESPACE'],
      ['*', 'local', e.server.url, 'team'],
      ['', 'broken', 'http://127.0.0.1:1'],
    ],
  );
  r = await e.skctl(['config', 'use-context', 'broken'], { env: bare });
  assert.equal(r.stdout, 'Switched to context "broken".\n');
  assert.equal((await e.skctl(['config', 'current-context'], { env: bare })).stdout, 'broken\n');
  r = await e.skctl(['get', 'ws'], { env: bare });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: cannot reach http:\/\/127.0.0.1:1: connection refused/);
  r = await e.skctl(['get', 'ws', '-o', 'name', '--context', 'local'], { env: bare });
  assert.equal(r.stdout, 'workspace.sandkasten.dev/in-team\n');
  r = await e.skctl(['config', 'use-context', 'nope'], { env: bare });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'error: no context exists with the name: "nope"\n');

  r = await e.skctl(['config', 'view'], { env: bare });
  assert.doesNotMatch(r.stdout, new RegExp(e.server.apiKey));
  assert.match(r.stdout, /api-key: REDACTED/);
  r = await e.skctl(['config', 'view', '--raw', '-o', 'json'], { env: bare });
  const raw = JSON.parse(r.stdout) as { 'current-context': string; contexts: { name: string; 'api-key'?: string }[] };
  assert.equal(raw['current-context'], 'broken');
  assert.equal(raw.contexts.find((c) => c.name === 'local')?.['api-key'], e.server.apiKey);
  r = await e.skctl(['config', 'view', '--minify'], { env: bare });
  assert.deepEqual((parse(r.stdout) as { contexts: { name: string }[] }).contexts.map((c) => c.name), ['broken']);

  r = await e.skctl(['config', 'set-context', '--current', '--server', e.server.url, '--api-key', e.server.apiKey], { env: bare });
  assert.equal(r.stdout, 'Context "broken" modified.\n');
  r = await e.skctl(['get', 'ws', '-o', 'name'], { env: bare });
  assert.equal(r.stdout, 'workspace.sandkasten.dev/in-default\n');
  r = await e.skctl(['config', 'set-context', 'x', '--server', 'not a url'], { env: bare });
  assert.equal(r.code, 1);
  r = await e.skctl(['config', 'delete-context', 'broken'], { env: bare });
  assert.equal(r.code, 0);
  assert.match(r.stderr, /removed your active context/);
  assert.equal((await e.skctl(['config', 'current-context'], { env: bare })).code, 1);
});

test('precedence: flags over the environment over the current context; --config and $SKCTL_CONFIG', async () => {
  const cfg = e.write(
    'other-config.yaml',
    `current-context: c\ncontexts:\n- name: c\n  server: http://127.0.0.1:1\n  api-key: wrong\n  namespace: team\n- name: good\n  server: ${e.server.url}\n  api-key: ${e.server.apiKey}\n`,
  );
  // the context's server is unreachable: the environment's wins
  let r = await e.skctl(['get', 'ws', '-o', 'name', '--config', cfg], { env: { SANDKASTEN_API_KEY: e.server.apiKey } });
  assert.equal(r.stdout, 'workspace.sandkasten.dev/in-team\n', r.stderr);
  // --namespace and --token beat both
  r = await e.skctl(['get', 'ws', '-o', 'name', '-n', 'default', '--token', e.server.apiKey], { env: { SKCTL_CONFIG: cfg, SANDKASTEN_API_KEY: 'wrong' } });
  assert.equal(r.stdout, 'workspace.sandkasten.dev/in-default\n', r.stderr);
  r = await e.skctl(['get', 'ws', '--token', 'wrong'], { env: { SKCTL_CONFIG: cfg } });
  assert.match(r.stderr, /Unauthorized/);
  // an explicit --context beats the environment
  r = await e.skctl(['get', 'ws', '-o', 'name', '--context', 'good'], { env: { SKCTL_CONFIG: cfg, SANDKASTEN_SERVER: 'http://127.0.0.1:1' } });
  assert.equal(r.stdout, 'workspace.sandkasten.dev/in-default\n', r.stderr);
  r = await e.skctl(['get', 'ws', '--context', 'missing'], { env: { SKCTL_CONFIG: cfg } });
  assert.match(r.stderr, /context "missing" not found/);
  // SANDKASTEN_NAMESPACE
  r = await e.skctl(['get', 'ws', '-o', 'name'], { env: { SANDKASTEN_NAMESPACE: 'team' } });
  assert.equal(r.stdout, 'workspace.sandkasten.dev/in-team\n');
  const bad = e.write('bad-config.yaml', 'contexts:\n- server: x\n');
  r = await e.skctl(['get', 'ws'], { env: { SKCTL_CONFIG: bad } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /bad-config.yaml: contexts\[0\].name must be a non-empty string/);
});

test('version: client and server', async () => {
  let r = await e.skctl(['version']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Client Version: v\d+\.\d+\.\d+\nServer Version: v?\S+\n$/);
  r = await e.skctl(['version', '--client', '-o', 'json'], { env: { SANDKASTEN_SERVER: 'http://127.0.0.1:1' } });
  assert.equal(r.code, 0);
  assert.ok((JSON.parse(r.stdout) as { clientVersion: { gitVersion: string } }).clientVersion.gitVersion);
  r = await e.skctl(['version'], { env: { SANDKASTEN_SERVER: 'http://127.0.0.1:1' } });
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^Client Version: /);
  assert.match(r.stderr, /connection refused/);
});

test('completion: scripts for bash and zsh; candidates from commands, kinds, the server and contexts', async () => {
  const bash = await e.skctl(['completion', 'bash']);
  assert.match(bash.stdout, /complete -F _skctl skctl/);
  const check = spawnSync('bash', ['-n'], { input: bash.stdout });
  assert.equal(check.status, 0, `bash -n: ${check.stderr}`);
  const zsh = await e.skctl(['completion', 'zsh']);
  assert.match(zsh.stdout, /^#compdef skctl/);
  assert.equal((await e.skctl(['completion', 'fish'])).code, 1);

  const complete = async (...words: string[]) => (await e.skctl(['__complete', ...words])).stdout.trimEnd().split('\n').filter(Boolean);
  assert.deepEqual(await complete('ap'), ['apply', 'api-resources']);
  assert.ok((await complete('get', '')).includes('sessions'));
  assert.ok((await complete('get', 'w')).includes('ws'));
  assert.deepEqual(await complete('get', 'ws', ''), ['in-default']);
  assert.deepEqual(await complete('get', 'ws', '-n', 'team', 'in'), ['in-team']);
  assert.deepEqual(await complete('get', 'ws', '-o', 'j'), ['json', 'jsonpath']);
  assert.ok((await complete('get', '--sh')).includes('--show-labels'));
  assert.deepEqual(await complete('config', 'u'), ['use-context']);
  assert.deepEqual(await complete('completion', ''), ['bash', 'zsh']);
});

test('--help on every command, with examples; usage errors exit 1', async () => {
  const commands = [
    [],
    ['get'],
    ['apply'],
    ['describe'],
    ['delete'],
    ['diff'],
    ['wait'],
    ['edit'],
    ['version'],
    ['config'],
    ['config', 'set-context'],
    ['config', 'use-context'],
    ['completion'],
  ];
  for (const c of commands) {
    const r = await e.skctl([...c, '--help']);
    assert.equal(r.code, 0, `${c.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, /^Usage: skctl/, c.join(' '));
    if (!(c[0] === 'config' && c.length === 2 && c[1] === 'use-context')) assert.match(r.stdout, /\nExamples:\n {2}/, `examples in ${c.join(' ') || 'skctl'} --help`);
  }
  let r = await e.skctl(['get', '--bogus']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /unknown option '--bogus'\nSee 'skctl get --help' for usage\./);
  r = await e.skctl(['frobnicate']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /unknown command 'frobnicate'/);
  r = await e.skctl(['get']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /you must specify the type of resource to get/);
  r = await e.skctl(['api-resources']);
  assert.match(r.stdout, /^NAME\s+SHORTNAMES\s+APIVERSION\s+NAMESPACED\s+KIND\nsessions\s+ses,sess\s+sandkasten.dev\/v1\s+true\s+Session\n/);
});
