// npm run bench:images — pulling a ~100 MiB multi-layer image from a loopback registry
// (/usr/bin/docker-registry): sandkasten's pull (download, verify, unpack into layers/) side by
// side with `skopeo copy docker://… oci:…` followed by `tar -xzf` of each layer, the same work done
// with the usual tools. Both start from empty directories each run; the median of the runs is
// reported. Target: sandkasten no slower than skopeo + tar.
//
// Options (environment): SK_BENCH_MIB (default 100), SK_BENCH_LAYERS (default 5), SK_BENCH_RUNS (default 3).

import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pullImage } from '../images/pull.js';
import { makeTar, noise, pushLayout, registrySkip, startRegistry, testDir, writeOciLayout } from '../images/testutil.js';

const MIB = 1 << 20;
const total = Number(process.env.SK_BENCH_MIB ?? 100);
const layers = Number(process.env.SK_BENCH_LAYERS ?? 5);
const runs = Number(process.env.SK_BENCH_RUNS ?? 3);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 16 * MIB });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error?.message}`);
}

async function main(): Promise<void> {
  if (registrySkip) {
    console.log(`bench:images skipped: ${registrySkip}`);
    return;
  }
  if (process.getuid?.() !== 0) {
    console.log('bench:images skipped: needs root (layers keep their owners)');
    return;
  }
  const dir = testDir('sk-bench-images-');
  const reg = await startRegistry();
  try {
    // Random content: gzip cannot shrink it, so the bytes on the wire are the bytes on disk.
    // Each layer holds a few files of mixed sizes, as real layers do.
    const perLayer = Math.floor((total * MIB) / layers);
    const tars = Array.from({ length: layers }, (_, i) => {
      const files = [];
      let left = perLayer;
      for (let j = 0; left > 0; j++) {
        const size = Math.min(left, j % 4 === 0 ? 8 * MIB : j % 4 === 1 ? 256 << 10 : j % 4 === 2 ? 4 << 10 : 2 * MIB);
        files.push({ path: `layer${i}/dir${j % 8}/file${j}`, content: noise(size) });
        left -= size;
      }
      return makeTar([{ path: `layer${i}/` }, ...Array.from({ length: 8 }, (_, k) => ({ path: `layer${i}/dir${k}/` })), ...files]);
    });
    const layout = join(dir, 'layout');
    const img = writeOciLayout(layout, 'v1', { layers: tars }).images[0]!;
    const wire = img.layerSizes.reduce((a, b) => a + b, 0);
    pushLayout(layout, 'v1', reg.host, 'bench/big');
    const ref = `${reg.host}/bench/big:v1`;
    console.log(`image: ${layers} layers, ${(wire / MIB).toFixed(1)} MiB compressed, ${tars.reduce((a, t) => a + t.length, 0) / MIB | 0} MiB of tar, ${tars.length ? tars[0]!.length / MIB | 0 : 0} MiB per layer; ${runs} runs each, median`);

    const ours: number[] = [];
    const theirs: { copy: number; extract: number; total: number }[] = [];
    for (let r = 0; r < runs; r++) {
      // Alternate the order so neither side always finds the page cache warmer.
      const order = r % 2 === 0 ? ['ours', 'theirs'] : ['theirs', 'ours'];
      for (const who of order) {
        // Each side starts with the previous run's writes on disk, not in flight.
        spawnSync('sync');
        if (who === 'ours') {
          const dataDir = join(dir, `data-${r}`);
          const t0 = performance.now();
          const res = await pullImage({ dataDir, name: 'big', reference: ref });
          ours.push(performance.now() - t0);
          if (res.downloadedBytes !== wire) throw new Error(`downloaded ${res.downloadedBytes}, expected ${wire}`);
          rmSync(dataDir, { recursive: true, force: true });
        } else {
          const oci = join(dir, `oci-${r}`);
          const root = join(dir, `extract-${r}`);
          const t0 = performance.now();
          run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci:${oci}:v1`]);
          const t1 = performance.now();
          const index = JSON.parse(readFileSync(join(oci, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
          const manifest = JSON.parse(readFileSync(join(oci, 'blobs/sha256', index.manifests[0]!.digest.slice(7)), 'utf8')) as { layers: { digest: string }[] };
          for (const l of manifest.layers) {
            const to = join(root, l.digest.slice(7));
            mkdirSync(to, { recursive: true });
            run('tar', ['-xzf', join(oci, 'blobs/sha256', l.digest.slice(7)), '-C', to, '--same-owner', '-p']);
          }
          const t2 = performance.now();
          theirs.push({ copy: t1 - t0, extract: t2 - t1, total: t2 - t0 });
          rmSync(oci, { recursive: true, force: true });
          rmSync(root, { recursive: true, force: true });
        }
      }
    }
    const o = median(ours);
    const t = median(theirs.map((x) => x.total));
    const mibs = (ms: number) => (wire / MIB / (ms / 1000)).toFixed(0);
    console.log(`sandkasten pull (download + verify + unpack, concurrent): ${o.toFixed(0)} ms  (${mibs(o)} MiB/s)   runs: ${ours.map((x) => x.toFixed(0)).join(', ')}`);
    console.log(
      `skopeo copy + tar -xzf per layer:                        ${t.toFixed(0)} ms  (${mibs(t)} MiB/s)   copy ${median(theirs.map((x) => x.copy)).toFixed(0)} ms + extract ${median(theirs.map((x) => x.extract)).toFixed(0)} ms`,
    );
    console.log(`ratio sandkasten / skopeo+tar: ${(o / t).toFixed(2)} ${o <= t ? '(target met: no slower)' : '(slower than the target)'}`);
  } finally {
    await reg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`bench:images failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
