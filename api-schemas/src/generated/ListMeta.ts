// Generated from schemas/ListMeta.json by scripts/generate-types.mjs — do not edit.
// Change the schema and run `npm run generate -w api-schemas`.

/**
 * Metadata of a list: the store revision it was read at (a watch from it misses nothing).
 */
export interface ListMeta {
  resourceVersion?: string;
  continue?: string;
  remainingItemCount?: number;
  selfLink?: string;
}
