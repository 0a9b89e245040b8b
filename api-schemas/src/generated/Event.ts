// Generated from schemas/Event.json by scripts/generate-types.mjs — do not edit.
// Change the schema and run `npm run generate -w api-schemas`.

import type { ObjectMeta } from './ObjectMeta.js';

/**
 * A report of something that happened to an object (a lifecycle step, a failure), written by the controllers: Kubernetes' core/v1 Event, trimmed. Repeats of the same event are counted on one Event (count, lastTimestamp) instead of written anew. An Event lives in its involved object's namespace; Events about cluster-scoped objects (Images) live in the namespace "default", as in Kubernetes. Events are deleted a while (event_ttl_seconds) after they were last seen, not together with their object.
 */
export interface Event {
  apiVersion: "sandkasten.dev/v1";
  kind: "Event";
  metadata: ObjectMeta;
  involvedObject: ObjectReference;
  /**
   * Why: a short CamelCase, machine-readable word such as ImagePulled or SandboxFailed.
   */
  reason: string;
  /**
   * What happened, for people.
   */
  message: string;
  /**
   * Normal: a step went as planned; Warning: something went wrong or needs attention.
   */
  type: "Normal" | "Warning";
  /**
   * How many times this event has occurred between firstTimestamp and lastTimestamp.
   */
  count: number;
  /**
   * RFC 3339 time the event was first seen.
   */
  firstTimestamp: string;
  /**
   * RFC 3339 time the event was most recently seen.
   */
  lastTimestamp: string;
  source: EventSource;
  /**
   * The controller that emitted the event (core/v1 names this field reportingComponent; events.k8s.io/v1 calls it reportingController).
   */
  reportingComponent?: string;
  /**
   * What the reporting controller did or failed to do, e.g. Pull or Start.
   */
  action?: string;
}
/**
 * The object an event is about.
 */
export interface ObjectReference {
  apiVersion: string;
  kind: string;
  name: string;
  /**
   * The object's namespace; absent for cluster-scoped objects. Must be the Event's own namespace.
   */
  namespace?: string;
  uid: string;
  /**
   * The object's resourceVersion when the event was (last) recorded.
   */
  resourceVersion?: string;
}
/**
 * Who reported the event.
 */
export interface EventSource {
  /**
   * The reporting component, e.g. session-controller.
   */
  component: string;
}
