// Generated from schemas/Quantity.json by scripts/generate-types.mjs — do not edit.
// Change the schema and run `npm run generate -w api-schemas`.

/**
 * An amount of bytes: an integer, or a Kubernetes quantity string such as "512Mi", "1G" or "1.5Gi".
 */
export type Quantity = number | string;
