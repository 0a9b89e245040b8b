// Importing a root filesystem tarball (gzip or plain) as a one-layer image, as the original
// imgbuilder's `import --name NAME --tar FILE` did. The layer is named by the tarball's sha256, so
// importing the same file again (under any name) unpacks nothing.

import { createHash } from 'node:crypto';
import { createReadStream, rmSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { writeImageMeta, type ImageMeta } from './meta.js';
import { asPullError, PullError, type PullProgress } from './pull.js';
import { ContentStore, layerRel, pins } from './store.js';
import { unpackLayer } from './unpack.js';

/** The environment a tarball image gets (a tarball carries no image config). */
export const IMPORT_ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];

export interface ImportOptions {
  dataDir: string;
  name: string;
  /** Absolute path of the tarball on this host. */
  path: string;
  onProgress?: (p: PullProgress) => void;
  signal?: AbortSignal;
  pullRequest?: string;
}

export interface ImportResult {
  meta: ImageMeta;
  digest: string;
  sizeBytes: number;
  reused: boolean;
  skipped: string[];
}

export async function importTarball(o: ImportOptions): Promise<ImportResult> {
  if (!isAbsolute(o.path)) throw new PullError(`tarball path ${JSON.stringify(o.path)} must be absolute`, 'InvalidSource', false);
  let size: number;
  try {
    const st = await stat(o.path);
    if (!st.isFile()) throw new PullError(`${o.path} is not a regular file`, 'InvalidSource', false);
    size = st.size;
  } catch (e) {
    if (e instanceof PullError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new PullError(`cannot read the tarball ${o.path}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`, 'InvalidSource', code !== 'ENOENT' && code !== 'EACCES');
  }
  const store = new ContentStore(o.dataDir);
  store.init();
  try {
    // The digest names the layer: one read to hash, a second to unpack when it is new.
    const h = createHash('sha256');
    for await (const c of createReadStream(o.path, o.signal ? { signal: o.signal } : {}) as AsyncIterable<Buffer>) h.update(c);
    const digest = `sha256:${h.digest('hex')}`;
    const release = pins.pin([digest]);
    try {
      let info = store.layer(digest);
      const reused = info !== undefined;
      let skipped: string[] = [];
      const progress: PullProgress = { bytesDone: 0, bytesTotal: size, layersDone: 0, layersTotal: 1 };
      if (!info) {
        const tmp = store.tempLayerDir(digest);
        try {
          let last = 0;
          const counted = async function* (src: AsyncIterable<Buffer>) {
            for await (const c of src) {
              progress.bytesDone += c.length;
              if (o.onProgress && Date.now() - last >= 100) {
                last = Date.now();
                o.onProgress({ ...progress });
              }
              yield c;
            }
          };
          const r = await unpackLayer(counted(createReadStream(o.path, o.signal ? { signal: o.signal } : {})), tmp, { what: `tarball ${o.path}`, ...(o.signal && { signal: o.signal }) });
          info = { digest, diffId: r.diffId, sizeBytes: r.sizeBytes, entries: r.entries, unpackedAt: new Date().toISOString() };
          skipped = r.skipped;
          store.commitLayer(tmp, info);
        } catch (e) {
          rmSync(tmp, { recursive: true, force: true });
          throw e;
        }
      }
      progress.bytesDone = size;
      progress.layersDone = 1;
      o.onProgress?.({ ...progress });
      const meta: ImageMeta = {
        schemaVersion: 1,
        name: o.name,
        source: `tar://${o.path}`,
        digest,
        layers: [layerRel(digest)],
        mounts: [],
        config: { env: [...IMPORT_ENV] },
        updatedAt: new Date().toISOString(),
        sizeBytes: info.sizeBytes,
        ...(o.pullRequest !== undefined && { pullRequest: o.pullRequest }),
      };
      writeImageMeta(o.dataDir, meta);
      return { meta, digest, sizeBytes: info.sizeBytes, reused, skipped };
    } finally {
      release();
    }
  } catch (e) {
    throw asPullError(e, o.signal);
  }
}
