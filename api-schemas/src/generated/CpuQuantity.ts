// Generated from schemas/CpuQuantity.json by scripts/generate-types.mjs — do not edit.
// Change the schema and run `npm run generate -w api-schemas`.

/**
 * A number of CPUs: a number such as 0.5, or a Kubernetes quantity string such as "500m" or "2".
 */
export type CpuQuantity = number | string;
