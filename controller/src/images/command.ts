// `sandkasten image pull|import|list|validate|delete`: thin clients of the Image kind when the
// daemon answers at the config's listen address (with its api_key), otherwise the same work done
// in this process on data_dir (the daemon adopts such images when it starts).

import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { isAbsolute, join, resolve } from 'node:path';
import { formatBytes, type Image, type ResolvedConfig } from '@sandkasten/api-schemas';
import { ConfigError, loadConfig } from '../config/index.js';
import { collectGarbage } from './gc.js';
import { importTarball } from './import.js';
import { ImageMetaError, imageDir, readImageMeta, removeImageDir, type ImageMeta } from './meta.js';
import { pullImage, PullError, type PullProgress } from './pull.js';
import { credentialsFromAuthFile, defaultAuthFiles, type Credentials } from './registry/auth.js';
import { parseReference, ReferenceError } from './registry/reference.js';

export interface Out {
  stdout(s: string): void;
  stderr(s: string): void;
}
const defaultOut: Out = { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) };

export const imageUsage = `Usage: sandkasten [--config FILE] image pull --name NAME REFERENCE [--creds USER:PASSWORD]
       sandkasten [--config FILE] image import --name NAME --tar FILE
       sandkasten [--config FILE] image list [--json]
       sandkasten [--config FILE] image validate NAME
       sandkasten [--config FILE] image delete NAME

Images are root filesystems for sessions. With the daemon running (it answers at the config's
listen address), these commands create, list and delete Image objects and follow their status;
otherwise they work on data_dir directly (run them as the daemon's user, usually root).

  pull      From an OCI registry, no Docker needed: python:3.12-slim is
            docker.io/library/python:3.12-slim; loopback registries and those in
            insecure_registries are reached over plain HTTP. Credentials come from
            $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json or ~/.docker/config.json
            (the daemon's), or --creds (without the daemon).
  import    A root filesystem tarball (gzip or plain) as a one-layer image.
  list      Images and their state.
  validate  Checks an image on this host: meta.json, its layers, /bin/sh, its user.
  delete    Removes an image; refused while sessions use it. Unused layers are removed.
`;

interface Args {
  positional: string[];
  flags: Map<string, string>;
  bools: Set<string>;
}

function parse(argv: string[], valued: Set<string>, bools: Set<string>): Args | string {
  const a: Args = { positional: [], flags: new Map(), bools: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    const eq = x.startsWith('--') ? x.indexOf('=') : -1;
    const flag = eq > 0 ? x.slice(0, eq) : x;
    if (valued.has(flag)) {
      const v = eq > 0 ? x.slice(eq + 1) : argv[++i];
      if (v === undefined) return `${flag} needs a value`;
      a.flags.set(flag, v);
    } else if (bools.has(flag)) a.bools.add(flag);
    else if (x.startsWith('-') && x !== '-') return `unknown option ${JSON.stringify(x)}`;
    else a.positional.push(x);
  }
  return a;
}

class CommandError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** Runs `sandkasten image …`; returns the exit code. */
export async function imageCommand(argv: string[], configFile: string | undefined, out: Out = defaultOut): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === '-h' || verb === '--help' || verb === 'help') {
    (verb === undefined ? out.stderr : out.stdout)(imageUsage);
    return verb === undefined ? 2 : 0;
  }
  const valued = new Set(['--name', '--tar', '--creds', '--config', '-c']);
  const a = parse(rest, valued, new Set(['--json', '-h', '--help']));
  if (typeof a === 'string') {
    out.stderr(`sandkasten image ${verb}: ${a}\n\n${imageUsage}`);
    return 2;
  }
  if (a.bools.has('-h') || a.bools.has('--help')) {
    out.stdout(imageUsage);
    return 0;
  }
  let config: ResolvedConfig;
  try {
    config = loadConfig(a.flags.get('--config') ?? a.flags.get('-c') ?? configFile);
  } catch (e) {
    if (e instanceof ConfigError) {
      out.stderr(`sandkasten image: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  try {
    const daemon = await Daemon.find(config);
    switch (verb) {
      case 'pull':
        return await pull(a, config, daemon, out);
      case 'import':
        return await importCmd(a, config, daemon, out);
      case 'list':
        return await list(a, config, daemon, out);
      case 'validate':
        return await validate(a, config, daemon, out);
      case 'delete':
        return await del(a, config, daemon, out);
      default:
        out.stderr(`sandkasten image: unknown command ${JSON.stringify(verb)}\n\n${imageUsage}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof CommandError) {
      out.stderr(`sandkasten image ${verb}: ${e.message}\n`);
      return e.exitCode;
    }
    if (e instanceof ReferenceError) {
      out.stderr(`sandkasten image ${verb}: ${e.message}\n`);
      return 2;
    }
    if (e instanceof PullError || e instanceof ImageMetaError || (e as NodeJS.ErrnoException).code !== undefined) {
      out.stderr(`sandkasten image ${verb}: ${(e as Error).message}\n`);
      return 1;
    }
    throw e;
  }
}

function oneName(a: Args, verb: string): string {
  const name = a.flags.get('--name') ?? (verb === 'validate' || verb === 'delete' ? a.positional.shift() : undefined);
  if (!name) throw new CommandError(`the image name is required\n\n${imageUsage}`, 2);
  if (!/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(name)) throw new CommandError(`invalid image name ${JSON.stringify(name)}: lowercase letters, digits, '-' and '.'`, 2);
  return name;
}

function checkAllowed(config: ResolvedConfig, name: string): void {
  const allowed = config.allowed_images;
  if (allowed.length > 0 && !allowed.includes(name)) throw new CommandError(`image "${name}" is not allowed on this daemon (allowed_images: ${allowed.join(', ')})`);
}

// ---- the daemon --------------------------------------------------------------------------------

const IMAGES = '/apis/sandkasten.dev/v1/images';

class Daemon {
  private constructor(
    readonly base: URL,
    private readonly key: string,
    private readonly ca: Buffer | undefined,
  ) {}

  /** The daemon at the config's listen address, or undefined when nothing listens there. */
  static async find(config: ResolvedConfig): Promise<Daemon | undefined> {
    const i = config.listen.lastIndexOf(':');
    let host = config.listen.slice(0, i);
    const port = config.listen.slice(i + 1);
    if (host === '' || host === '0.0.0.0') host = '127.0.0.1';
    if (host === '[::]') host = '[::1]';
    const tls = config.tls_cert_file !== '';
    const d = new Daemon(new URL(`${tls ? 'https' : 'http'}://${host}:${port}`), config.api_key, tls ? readFileSync(config.tls_cert_file) : undefined);
    try {
      const r = await d.req('GET', IMAGES);
      if (r.status === 401 || r.status === 403) throw new CommandError(`the daemon at ${d.base.origin} refused the config's api_key (${r.status})`);
      return d;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ECONNREFUSED' || code === 'EADDRNOTAVAIL') return undefined;
      throw e;
    }
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  req(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; body: any }> {
    const url = new URL(path, this.base);
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.key) headers.authorization = `Bearer ${this.key}`;
    if (data) Object.assign(headers, { 'content-type': contentType, 'content-length': String(data.length) });
    return new Promise((resolvePromise, reject) => {
      // The daemon's own certificate is the trust anchor; its name may not be the listen host.
      const opts = { method, headers, ...(this.ca && { ca: this.ca, checkServerIdentity: () => undefined }) };
      const rq = (url.protocol === 'https:' ? https : http).request(url, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON
          }
          resolvePromise({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', reject);
      });
      rq.on('error', reject);
      rq.end(data);
    });
  }

  async get(name: string): Promise<Image | undefined> {
    const r = await this.req('GET', `${IMAGES}/${name}`);
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new CommandError(`GET image ${name}: ${r.status} ${statusMessage(r.body)}`);
    return r.body as Image;
  }

  /** Creates or updates the Image with `source` and a new pull request; returns its resourceVersion. */
  async request(name: string, source: string): Promise<string> {
    const annotations = { 'sandkasten.dev/pull-requested': new Date().toISOString() };
    const existing = await this.get(name);
    const r = existing
      ? await this.req('PATCH', `${IMAGES}/${name}`, { metadata: { annotations }, spec: { source } }, 'application/merge-patch+json')
      : await this.req('POST', IMAGES, { apiVersion: 'sandkasten.dev/v1', kind: 'Image', metadata: { name, annotations }, spec: { source } });
    if (r.status !== 200 && r.status !== 201) throw new CommandError(`${existing ? 'PATCH' : 'POST'} image ${name}: ${r.status} ${statusMessage(r.body)}`);
    return (r.body as Image).metadata.resourceVersion ?? '0';
  }
}

function statusMessage(body: unknown): string {
  const b = body as { message?: string } | string;
  return typeof b === 'string' ? b.slice(0, 500) : (b?.message ?? '');
}

/** Follows the Image until the request written at `rv` is answered: Ready or Failed. */
async function follow(d: Daemon, name: string, rv: string, out: Out): Promise<Image> {
  let lastLine = '';
  for (;;) {
    const img = await d.get(name);
    if (!img) throw new CommandError(`image ${name} was deleted meanwhile`);
    const s = img.status;
    const line = s?.phase === 'Pulling' ? `${s.message ?? 'pulling'}: ${s.progress?.summary ?? '0%'}${s.progress ? ` ${formatBytes(s.progress.bytesDone ?? 0)}/${formatBytes(s.progress.bytesTotal ?? 0)}` : ''}` : '';
    if (line && line !== lastLine) {
      out.stderr(`${line}\n`);
      lastLine = line;
    }
    // Only a status written after the request answers it.
    if (BigInt(img.metadata.resourceVersion ?? '0') > BigInt(rv) && (s?.phase === 'Ready' || s?.phase === 'Failed')) return img;
    await new Promise((r) => setTimeout(r, 200));
  }
}

function printResult(img: Image, out: Out): number {
  const s = img.status!;
  if (s.phase === 'Failed') {
    out.stderr(`sandkasten image: ${img.metadata.name}: ${s.reason}: ${s.message}\n`);
    return 1;
  }
  out.stdout(`${img.metadata.name}: Ready, ${s.layerCount ?? 0} layers, ${s.sizeBytes !== undefined ? formatBytes(s.sizeBytes) : '?'}, ${s.digest ?? ''}\n`);
  return 0;
}

// ---- verbs -------------------------------------------------------------------------------------

function progressPrinter(out: Out, what: string): (p: PullProgress) => void {
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (now - last < 1000 && p.layersDone < p.layersTotal) return;
    last = now;
    const pct = p.bytesTotal ? Math.floor((p.bytesDone / p.bytesTotal) * 100) : 100;
    out.stderr(`${what}: ${pct}% (${p.layersDone}/${p.layersTotal} layers) ${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)}\n`);
  };
}

async function pull(a: Args, config: ResolvedConfig, d: Daemon | undefined, out: Out): Promise<number> {
  const name = oneName(a, 'pull');
  const ref = a.positional[0];
  if (!ref || a.positional.length > 1) throw new CommandError(`pull takes one REFERENCE\n\n${imageUsage}`, 2);
  const canonical = parseReference(ref.replace(/^oci:\/\//, '')).canonical;
  checkAllowed(config, name);
  const creds = a.flags.get('--creds');
  if (d) {
    if (creds) throw new CommandError('--creds works without the daemon only: the daemon reads registry credentials from its auth file ($REGISTRY_AUTH_FILE or ~/.docker/config.json)', 2);
    const rv = await d.request(name, `oci://${canonical}`);
    return printResult(await follow(d, name, rv, out), out);
  }
  let credentials: (registry: string) => Credentials | undefined = (r) => credentialsFromAuthFile(r, defaultAuthFiles());
  if (creds) {
    const i = creds.indexOf(':');
    if (i < 0) throw new CommandError('--creds must be USER:PASSWORD', 2);
    const c = { username: creds.slice(0, i), password: creds.slice(i + 1) };
    credentials = () => c;
  }
  const r = await pullImage({
    dataDir: config.data_dir,
    name,
    reference: canonical,
    insecureRegistries: config.insecure_registries,
    credentials,
    onProgress: progressPrinter(out, `pulling ${canonical}`),
  });
  out.stdout(`${name}: pulled ${canonical} (${r.digest}), ${r.layerCount} layers, ${formatBytes(r.sizeBytes)}\n`);
  return 0;
}

async function importCmd(a: Args, config: ResolvedConfig, d: Daemon | undefined, out: Out): Promise<number> {
  const name = oneName(a, 'import');
  const tar = a.flags.get('--tar') ?? a.positional[0];
  if (!tar) throw new CommandError(`--tar FILE is required\n\n${imageUsage}`, 2);
  const path = resolve(tar);
  if (!existsSync(path)) throw new CommandError(`${path}: no such file`);
  checkAllowed(config, name);
  if (d) {
    const rv = await d.request(name, `tar://${path}`);
    return printResult(await follow(d, name, rv, out), out);
  }
  const r = await importTarball({ dataDir: config.data_dir, name, path, onProgress: progressPrinter(out, `importing ${path}`) });
  out.stdout(`${name}: imported ${path} (${r.digest}), ${formatBytes(r.sizeBytes)}\n`);
  return 0;
}

async function list(a: Args, config: ResolvedConfig, d: Daemon | undefined, out: Out): Promise<number> {
  type Row = { name: string; phase: string; source: string; size: string; layers: string; digest: string };
  let rows: Row[];
  if (d) {
    const r = await d.req('GET', IMAGES);
    if (r.status !== 200) throw new CommandError(`list: ${r.status} ${statusMessage(r.body)}`);
    const items = (r.body as { items: Image[] }).items;
    if (a.bools.has('--json')) {
      out.stdout(`${JSON.stringify(items, null, 2)}\n`);
      return 0;
    }
    rows = items.map((i) => ({
      name: i.metadata.name!,
      phase: i.status?.phase === 'Pulling' ? `Pulling ${i.status.progress?.summary ?? ''}`.trim() : (i.status?.phase ?? 'Pending'),
      source: i.spec.source,
      size: i.status?.sizeBytes !== undefined ? formatBytes(i.status.sizeBytes) : '',
      layers: String(i.status?.layerCount ?? ''),
      digest: (i.status?.digest ?? '').slice(0, 19),
    }));
  } else {
    const metas = localImages(config.data_dir);
    if (a.bools.has('--json')) {
      out.stdout(`${JSON.stringify(metas, null, 2)}\n`);
      return 0;
    }
    rows = metas.map((m) => ({ name: m.name, phase: 'Ready', source: m.source, size: m.sizeBytes !== undefined ? formatBytes(m.sizeBytes) : '', layers: String(m.layers.length), digest: (m.digest ?? '').slice(0, 19) }));
  }
  const head: Row = { name: 'NAME', phase: 'PHASE', source: 'SOURCE', size: 'SIZE', layers: 'LAYERS', digest: 'DIGEST' };
  const cols = Object.keys(head) as (keyof Row)[];
  const width = (k: keyof Row) => Math.max(...[head, ...rows].map((r) => r[k].length));
  for (const r of [head, ...rows]) out.stdout(`${cols.map((k, i) => (i === cols.length - 1 ? r[k] : r[k].padEnd(width(k)))).join('   ')}\n`);
  return 0;
}

function localImages(dataDir: string): ImageMeta[] {
  let names: string[];
  try {
    names = readdirSync(join(dataDir, 'images')).sort();
  } catch {
    return [];
  }
  const out: ImageMeta[] = [];
  for (const n of names) {
    try {
      const m = readImageMeta(dataDir, n);
      if (m) out.push(m);
    } catch {
      // validate reports it
    }
  }
  return out;
}

async function validate(a: Args, config: ResolvedConfig, d: Daemon | undefined, out: Out): Promise<number> {
  const name = oneName(a, 'validate');
  const problems: string[] = [];
  const notes: string[] = [];
  if (d) {
    const img = await d.get(name);
    if (!img) problems.push('no Image object of this name on the daemon');
    else if (img.status?.phase !== 'Ready') problems.push(`the Image is ${img.status?.phase ?? 'Pending'}${img.status?.message ? `: ${img.status.message}` : ''}`);
  }
  const dir = imageDir(config.data_dir, name);
  let meta: ImageMeta | undefined;
  try {
    meta = readImageMeta(config.data_dir, name);
    if (!meta) problems.push(`${join(dir, 'meta.json')} does not exist`);
  } catch (e) {
    problems.push((e as Error).message);
  }
  if (meta) {
    const layers = meta.layers.map((l) => join(config.data_dir, l));
    for (const l of layers) if (!existsSync(l) || !lstatSync(l).isDirectory()) problems.push(`layer ${l} is missing`);
    for (const m of meta.mounts) if (!existsSync(m.source)) problems.push(`mount source ${m.source} (for ${m.destination}) is missing`);
    if (problems.length === 0) {
      const sh = resolveInImage(layers, meta, '/bin/sh');
      if (!sh) problems.push('/bin/sh is missing: sessions need a shell');
      else notes.push(`/bin/sh → ${sh}`);
      const user = (meta.config.user ?? '').split(':')[0] ?? '';
      if (user && !/^\d+$/.test(user) && user !== 'root') {
        const passwd = resolveInImage(layers, meta, '/etc/passwd');
        const text = passwd ? readFileSync(passwd, 'utf8') : '';
        if (!text.split('\n').some((l) => l.split(':')[0] === user)) problems.push(`the image's user "${user}" is not in its /etc/passwd`);
      }
    }
  }
  if (problems.length > 0) {
    out.stderr(`image ${name}: invalid\n${problems.map((p) => `  - ${p}\n`).join('')}`);
    return 1;
  }
  out.stdout(`image ${name}: ok (${meta!.layers.length} layers${meta!.sizeBytes !== undefined ? `, ${formatBytes(meta!.sizeBytes)}` : ''}, ${meta!.source}; ${notes.join('; ')})\n`);
  return 0;
}

/**
 * Where `path` is found in the image's merged view (top layer first, whiteouts and opaque
 * directories honoured, symlinks followed inside the image, bind mounts of builtin images
 * included), as a host path; undefined when absent.
 */
export function resolveInImage(layers: string[], meta: Pick<ImageMeta, 'mounts'>, path: string, hops = 0): string | undefined {
  if (hops > 40) return undefined;
  const parts = path.split('/').filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    const prefix = `/${parts.slice(0, i + 1).join('/')}`;
    const mount = meta.mounts.find((m) => prefix === m.destination);
    let host: string | undefined;
    if (mount) host = mount.source;
    else {
      for (const l of layers) {
        const p = join(l, ...parts.slice(0, i + 1));
        const st = lstatSync(p, { throwIfNoEntry: false });
        if (!st) continue;
        if (st.isCharacterDevice() && st.rdev === 0) break; // a whiteout: absent below too
        host = p;
        break;
      }
    }
    if (!host) return undefined;
    const st = lstatSync(host);
    if (st.isSymbolicLink()) {
      const target = readlinkSync(host);
      const base = isAbsolute(target) ? target : `/${[...parts.slice(0, i), target].join('/')}`;
      return resolveInImage(layers, meta, `${base}/${parts.slice(i + 1).join('/')}`.replace(/\/+$/, ''), hops + 1);
    }
    if (i === parts.length - 1) return host;
    if (!st.isDirectory()) return undefined;
  }
  return undefined;
}

async function del(a: Args, config: ResolvedConfig, d: Daemon | undefined, out: Out): Promise<number> {
  const name = oneName(a, 'delete');
  if (d) {
    const r = await d.req('DELETE', `${IMAGES}/${name}`);
    if (r.status === 404) throw new CommandError(`image ${name} does not exist`);
    if (r.status !== 200 && r.status !== 202) throw new CommandError(`DELETE image ${name}: ${r.status} ${statusMessage(r.body)}`);
    const end = Date.now() + 60_000;
    for (;;) {
      const img = await d.get(name);
      if (!img) break;
      if (img.status?.phase === 'Terminating' && img.status.reason === 'InUse') {
        throw new CommandError(`image ${name}: ${img.status.message} (the deletion completes by itself then)`);
      }
      if (Date.now() > end) throw new CommandError(`image ${name}: still being deleted after 60 s`);
      await new Promise((res) => setTimeout(res, 100));
    }
    out.stdout(`image ${name} deleted\n`);
    return 0;
  }
  const meta = readImageMeta(config.data_dir, name);
  if (!meta) throw new CommandError(`image ${name} does not exist in ${config.data_dir}`);
  const users = sessionsUsing(config.data_dir, meta);
  if (users.length > 0) throw new CommandError(`image ${name} is in use by the sandboxes of sessions ${users.join(', ')}; delete them first`);
  removeImageDir(config.data_dir, name);
  const gc = await collectGarbage(config.data_dir);
  out.stdout(`image ${name} deleted${gc.layers.length ? `; removed ${gc.layers.length} unused layers (${formatBytes(gc.bytesFreed)})` : ''}\n`);
  return 0;
}

/** Session uids whose bundle mounts a layer of the image. */
function sessionsUsing(dataDir: string, meta: ImageMeta): string[] {
  const layers = new Set(meta.layers.map((l) => join(dataDir, l)));
  const users: string[] = [];
  let uids: string[] = [];
  try {
    uids = readdirSync(join(dataDir, 'sessions'));
  } catch {
    return users;
  }
  for (const uid of uids) {
    try {
      const cfg = JSON.parse(readFileSync(join(dataDir, 'sessions', uid, 'config.json'), 'utf8')) as { annotations?: Record<string, string> };
      const lower = cfg.annotations?.['sandkasten.dev/overlay.lowerdirs'] ?? '';
      if (lower.split(':').some((p) => layers.has(p))) users.push(uid);
    } catch {
      // no bundle
    }
  }
  return users;
}
