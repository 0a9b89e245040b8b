// Test helpers for images: tar archives written entry by entry (including the hostile ones no
// well-behaved tool makes), OCI image layouts on disk, a real distribution registry
// (/usr/bin/docker-registry) on a loopback port, and skopeo to push layouts into it.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';

export const REGISTRY_BIN = '/usr/bin/docker-registry';
export const registrySkip = !existsSync(REGISTRY_BIN) ? 'docker-registry not installed' : spawnSync('skopeo', ['--version']).status !== 0 ? 'skopeo not installed' : false;
export const htpasswdSkip = spawnSync('htpasswd', ['-h']).error ? 'htpasswd (apache2-utils) not installed' : false;

// ---- tar ---------------------------------------------------------------------------------------

export interface TarEntry {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice' | 'BlockDevice' | 'FIFO';
  content?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  linkpath?: string;
  devmaj?: number;
  devmin?: number;
  mtime?: Date;
  /** Written as SCHILY.xattr.* records of a pax header. */
  xattrs?: Record<string, string>;
}

const MTIME = new Date('2024-01-02T03:04:05Z');

function pad(b: Buffer): Buffer {
  const rem = b.length % 512;
  return rem === 0 ? b : Buffer.concat([b, Buffer.alloc(512 - rem)]);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

/** A tar archive of exactly these entries, in this order, paths as given (nothing sanitized). */
export function makeTar(entries: TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? (e.content !== undefined ? 'File' : 'Directory');
    const body = type === 'File' ? Buffer.from(e.content ?? '') : Buffer.alloc(0);
    const records: string[] = [];
    if (Buffer.byteLength(e.path) > 99) records.push(paxRecord('path', e.path));
    if (e.linkpath && Buffer.byteLength(e.linkpath) > 99) records.push(paxRecord('linkpath', e.linkpath));
    for (const [k, v] of Object.entries(e.xattrs ?? {})) records.push(paxRecord(`SCHILY.xattr.${k}`, v));
    if (records.length > 0) {
      const pax = Buffer.from(records.join(''));
      const h = new Header({ path: 'PaxHeader', type: 'ExtendedHeader', size: pax.length, mode: 0o644, mtime: MTIME });
      const hb = Buffer.alloc(512);
      h.encode(hb, 0);
      blocks.push(hb, pad(pax));
    }
    const h = new Header({
      path: e.path.slice(0, 99),
      type,
      size: body.length,
      mode: e.mode ?? (type === 'Directory' ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: e.mtime ?? MTIME,
      ...(e.linkpath !== undefined && { linkpath: e.linkpath.slice(0, 99) }),
      devmaj: e.devmaj ?? 0,
      devmin: e.devmin ?? 0,
    });
    const hb = Buffer.alloc(512);
    h.encode(hb, 0);
    blocks.push(hb, pad(body));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

// ---- OCI layouts -------------------------------------------------------------------------------

export const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface TestImage {
  /** Layer tars, base first. */
  layers: Buffer[];
  /** Default true: layers are gzip-compressed. */
  gzip?: boolean;
  /** Overrides the layer media type (e.g. to a zstd one). */
  layerMediaType?: string;
  architecture?: string;
  variant?: string;
  config?: { Env?: string[]; WorkingDir?: string; User?: string; Cmd?: string[]; Entrypoint?: string[] };
}

export interface WrittenImage {
  manifestDigest: string;
  manifestSize: number;
  configDigest: string;
  layerDigests: string[];
  layerSizes: number[];
  diffIds: string[];
}

function putBlob(dir: string, body: Buffer | string): { digest: string; size: number } {
  const digest = sha256(body);
  writeFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), body);
  return { digest, size: Buffer.byteLength(body) };
}

function writeImage(dir: string, img: TestImage): WrittenImage {
  const gz = img.gzip ?? true;
  const layerType = img.layerMediaType ?? (gz ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar');
  const layers = img.layers.map((t) => putBlob(dir, gz ? gzipSync(t, { level: 1 }) : t));
  const diffIds = img.layers.map((t) => sha256(t));
  const config = {
    architecture: img.architecture ?? 'amd64',
    os: 'linux',
    ...(img.variant && { variant: img.variant }),
    config: img.config ?? { Env: ['PATH=/usr/local/bin:/usr/bin:/bin'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
  };
  const cfg = putBlob(dir, JSON.stringify(config));
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...cfg },
    layers: layers.map((l) => ({ mediaType: layerType, ...l })),
  };
  const m = putBlob(dir, JSON.stringify(manifest));
  return { manifestDigest: m.digest, manifestSize: m.size, configDigest: cfg.digest, layerDigests: layers.map((l) => l.digest), layerSizes: layers.map((l) => l.size), diffIds };
}

/**
 * Writes an OCI image layout at `dir` holding `tag`: one image, or a multi-platform index of
 * several (each with its architecture). Returns what was written.
 */
export function writeOciLayout(dir: string, tag: string, images: TestImage | TestImage[]): { images: WrittenImage[]; indexDigest?: string } {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const list = Array.isArray(images) ? images : [images];
  const written = list.map((i) => writeImage(dir, i));
  let top: { mediaType: string; digest: string; size: number };
  let indexDigest: string | undefined;
  if (Array.isArray(images)) {
    const index = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: written.map((w, i) => ({
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: w.manifestDigest,
        size: w.manifestSize,
        platform: { os: 'linux', architecture: list[i]!.architecture ?? 'amd64', ...(list[i]!.variant && { variant: list[i]!.variant }) },
      })),
    };
    const b = putBlob(dir, JSON.stringify(index));
    indexDigest = b.digest;
    top = { mediaType: index.mediaType, ...b };
  } else {
    top = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: written[0]!.manifestDigest, size: written[0]!.manifestSize };
  }
  const indexPath = join(dir, 'index.json');
  const outer = existsSync(indexPath) ? (JSON.parse(readFileSync(indexPath, 'utf8')) as { manifests: unknown[] }) : { schemaVersion: 2, manifests: [] as unknown[] };
  outer.manifests.push({ ...top, annotations: { 'org.opencontainers.image.ref.name': tag } });
  writeFileSync(indexPath, JSON.stringify(outer));
  return { images: written, ...(indexDigest && { indexDigest }) };
}

/**
 * skopeo copy of `tag` from the layout at `dir` to docker://host/repo:tag (all platforms);
 * format v2s2 converts it to Docker media types (manifest schema 2, its config and layer types).
 */
export function pushLayout(dir: string, tag: string, host: string, repo: string, creds?: { username: string; password: string }, format?: 'v2s2' | 'oci'): void {
  // (--dest-tls-verify=false: plain HTTP, or HTTPS with the test's self-signed certificate.)
  const args = [
    'copy', '--all', '--quiet', '--dest-tls-verify=false',
    ...(creds ? ['--dest-creds', `${creds.username}:${creds.password}`] : []),
    ...(format ? ['--format', format] : []),
    `oci:${dir}:${tag}`, `docker://${host}/${repo}:${tag}`,
  ];
  const r = spawnSync('skopeo', args, { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`skopeo ${args.join(' ')}: ${r.stderr || r.error?.message}`);
}

/**
 * Pushes one image manifest of the layout (and its blobs) with the registry API itself, byte for
 * byte as written (skopeo would convert media types it does not like, e.g. zstd ones).
 */
export async function pushRaw(dir: string, manifestDigest: string, host: string, repo: string, tag: string): Promise<void> {
  const blob = (d: string) => readFileSync(join(dir, 'blobs', 'sha256', d.slice(7)));
  const body = blob(manifestDigest);
  const m = JSON.parse(body.toString()) as { mediaType: string; config: { digest: string }; layers: { digest: string }[] };
  for (const d of [m.config.digest, ...m.layers.map((l) => l.digest)]) {
    const start = await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    await start.arrayBuffer();
    const loc = new URL(start.headers.get('location')!, `http://${host}`);
    loc.searchParams.set('digest', d);
    const put = await fetch(loc, { method: 'PUT', body: blob(d), headers: { 'content-type': 'application/octet-stream' } });
    if (put.status !== 201) throw new Error(`blob upload ${d}: ${put.status} ${await put.text()}`);
  }
  const r = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body, headers: { 'content-type': m.mediaType } });
  if (r.status !== 201) throw new Error(`manifest upload: ${r.status} ${await r.text()}`);
}

// ---- the registry ------------------------------------------------------------------------------

export interface TestRegistry {
  host: string;
  port: number;
  dir: string;
  /** The registry's blob file for a digest (to corrupt it). */
  blobFile(digest: string): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts /usr/bin/docker-registry on 127.0.0.1 with filesystem storage in a temp dir; optionally
 * with htpasswd (Basic) auth, optionally serving HTTPS with a self-signed certificate (openssl).
 */
export async function startRegistry(o: { auth?: { username: string; password: string }; tls?: boolean } = {}): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'sk-registry-'));
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    let auth = '';
    if (o.auth) {
      const r = spawnSync('htpasswd', ['-Bbn', o.auth.username, o.auth.password], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`htpasswd: ${r.stderr || r.error?.message}`);
      writeFileSync(join(dir, 'htpasswd'), r.stdout);
      auth = `auth:\n  htpasswd:\n    realm: test-realm\n    path: ${join(dir, 'htpasswd')}\n`;
    }
    let tls = '';
    if (o.tls) {
      const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`openssl: ${r.stderr || r.error?.message}`);
      tls = `  tls:\n    certificate: ${join(dir, 'cert.pem')}\n    key: ${join(dir, 'key.pem')}\n`;
    }
    writeFileSync(
      join(dir, 'config.yml'),
      `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n${tls}${auth}`,
    );
    const child: ChildProcess = spawn(REGISTRY_BIN, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const up = await waitUp(port, child, o.tls ?? false);
    if (!up) {
      child.kill('SIGKILL');
      await exited;
      if (attempt < 3 && /address already in use/.test(err)) continue;
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`docker-registry did not start: ${err}`);
    }
    return {
      host: `127.0.0.1:${port}`,
      port,
      dir,
      blobFile: (digest) => join(dir, 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7), 'data'),
      async stop() {
        if (child.exitCode === null) child.kill('SIGTERM');
        await exited;
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}

async function waitUp(port: number, child: ChildProcess, tls: boolean): Promise<boolean> {
  const end = Date.now() + 10_000;
  while (Date.now() < end && child.exitCode === null) {
    try {
      if (tls) {
        // Listening is enough: the certificate is self-signed.
        await new Promise<void>((resolve, reject) => {
          const s = createConnection(port, '127.0.0.1', () => {
            s.destroy();
            resolve();
          });
          s.once('error', reject);
        });
        return true;
      }
      const r = await fetch(`http://127.0.0.1:${port}/v2/`);
      await r.arrayBuffer();
      if (r.status === 200 || r.status === 401) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

// ---- file trees --------------------------------------------------------------------------------

/** A temp dir for one test file's work. */
export function testDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Random bytes that gzip cannot shrink. */
export function noise(n: number): Buffer {
  return randomBytes(n);
}

/** Every entry under `root`, sorted, as "path type mode uid:gid detail" (size, link target, device numbers). */
export function listTree(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(p);
      const mode = (st.mode & 0o7777).toString(8);
      const own = `${st.uid}:${st.gid}`;
      if (st.isDirectory()) out.push(`${r} dir ${mode} ${own}`);
      else if (st.isSymbolicLink()) out.push(`${r} link ${own} -> ${readlinkSync(p)}`);
      else if (st.isFile()) out.push(`${r} file ${mode} ${own} ${st.size}`);
      else if (st.isCharacterDevice()) out.push(`${r} char ${mode} ${own} ${st.rdev >> 8}:${st.rdev & 0xff}`);
      else out.push(`${r} other ${mode} ${own}`);
      if (st.isDirectory()) walk(p, r);
    }
  };
  walk(root, '');
  return out;
}

// ---- images with a shell -----------------------------------------------------------------------

/**
 * The entries of a minimal root with a shell: /bin/busybox (static) and /bin/sh, users root and
 * sandbox (1000), and the usual mount points.
 */
export function busyboxEntries(): TarEntry[] {
  return [
    { path: 'bin/', mode: 0o755 },
    { path: 'bin/busybox', content: readFileSync('/bin/busybox'), mode: 0o755 },
    { path: 'bin/sh', type: 'SymbolicLink', linkpath: 'busybox' },
    { path: 'etc/', mode: 0o755 },
    { path: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\nsandbox:x:1000:1000:sandbox:/home/sandbox:/bin/sh\n' },
    { path: 'etc/group', content: 'root:x:0:\nsandbox:x:1000:\n' },
    ...['proc', 'dev', 'sys', 'run', 'root', 'home', 'workspace'].map((d) => ({ path: `${d}/`, mode: d === 'root' ? 0o700 : 0o755 })),
    { path: 'tmp/', mode: 0o1777 },
  ];
}
