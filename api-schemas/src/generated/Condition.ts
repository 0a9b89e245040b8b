// Generated from schemas/Condition.json by scripts/generate-types.mjs — do not edit.
// Change the schema and run `npm run generate -w api-schemas`.

/**
 * One aspect of an object's observed state, as in Kubernetes (metav1.Condition).
 */
export interface Condition {
  /**
   * CamelCase condition type, e.g. Ready.
   */
  type: string;
  status: "True" | "False" | "Unknown";
  /**
   * CamelCase machine-readable reason for the last transition.
   */
  reason?: string;
  /**
   * Human-readable details of the last transition.
   */
  message?: string;
  /**
   * RFC 3339 time status last changed.
   */
  lastTransitionTime?: string;
  /**
   * metadata.generation the condition was computed from.
   */
  observedGeneration?: number;
}
