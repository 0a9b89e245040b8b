// Images on the host: meta.json (shared by every way an image arrives) and the built-in offline image.
export { BUILTIN_IMAGE, BUILTIN_SOURCE, SANDBOX_UID, SANDBOX_GID, prepareBuiltinImage, builtinImageMounts } from './builtin.js';
export type { BuiltinImageOptions, OciMount } from './builtin.js';
export { IMAGE_META_FILE, ImageMetaError, checkOverlayPath, imageDir, layerPaths, parseImageMeta, readImageMeta, writeImageMeta } from './meta.js';
export type { ImageConfig, ImageMeta, ImageMount } from './meta.js';
export { syncTree, treeDigest } from './tree.js';
