// An Image's spec.source: oci://REFERENCE, tar:///ABSOLUTE/PATH, or builtin://host.

import { isAbsolute, normalize } from 'node:path';
import { BUILTIN_SOURCE } from './builtin.js';
import { parseReference, type ImageReference } from './registry/reference.js';

export type ImageSource =
  | { kind: 'oci'; reference: ImageReference; canonical: string }
  | { kind: 'tar'; path: string; canonical: string }
  | { kind: 'builtin'; canonical: string };

export class SourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceError';
  }
}

/**
 * Parses a source; `canonical` is what meta.json records, so two spellings of one source
 * (`oci://python` and `oci://docker.io/library/python:latest`) compare equal.
 */
export function parseImageSource(source: string): ImageSource {
  const m = /^([a-z]+):\/\/(.*)$/s.exec(source);
  if (!m) throw new SourceError(`source ${JSON.stringify(source)}: must be oci://REFERENCE, tar:///PATH or ${BUILTIN_SOURCE}`);
  const [, scheme, rest] = m as unknown as [string, string, string];
  switch (scheme) {
    case 'oci': {
      let reference: ImageReference;
      try {
        reference = parseReference(rest);
      } catch (e) {
        throw new SourceError(`source ${JSON.stringify(source)}: ${(e as Error).message}`);
      }
      return { kind: 'oci', reference, canonical: `oci://${reference.canonical}` };
    }
    case 'tar': {
      if (!isAbsolute(rest)) throw new SourceError(`source ${JSON.stringify(source)}: the tarball path must be absolute (tar:///path/to/rootfs.tar)`);
      const path = normalize(rest);
      return { kind: 'tar', path, canonical: `tar://${path}` };
    }
    case 'builtin':
      if (source !== BUILTIN_SOURCE) throw new SourceError(`source ${JSON.stringify(source)}: the only built-in image is ${BUILTIN_SOURCE}`);
      return { kind: 'builtin', canonical: BUILTIN_SOURCE };
    default:
      throw new SourceError(`source ${JSON.stringify(source)}: unknown scheme "${scheme}" (oci, tar or builtin)`);
  }
}
