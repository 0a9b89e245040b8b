// Kinds and their paths. Types come from @sandkasten/api-schemas; a kind may be named as kubectl
// allows (Kind, plural, singular, short name, optionally ".sandkasten.dev"), and the name picks
// the object type: get('ses', …) is a Session.

import { GROUP_VERSION } from '@sandkasten/api-schemas/types';
import { resolveResourceName } from '@sandkasten/api-schemas/resources';
import type { Event, Image, KindName, ListMeta, ObjectMeta, ResourceInfo, Session, Workspace } from '@sandkasten/api-schemas';
import { UnknownKindError } from './errors.js';

/** The object type of each kind. */
export interface KindMap {
  Session: Session;
  Workspace: Workspace;
  Image: Image;
  Event: Event;
}

/** Every name a kind answers to (the resource table's plural, singular and short names). */
export interface KindAliases {
  Session: 'Session' | 'sessions' | 'session' | 'ses' | 'sess';
  Workspace: 'Workspace' | 'workspaces' | 'workspace' | 'ws';
  Image: 'Image' | 'images' | 'image' | 'img';
  Event: 'Event' | 'events' | 'event' | 'ev';
}

/** A kind as a caller may name it; any other string is resolved at run time. */
export type KindRef = KindAliases[KindName] | (string & {});

/** The kind a name stands for, or never when the type system cannot tell. */
export type KindOf<K extends string> = {
  [N in KindName]: K extends KindAliases[N] ? N : never;
}[KindName];

/** What every object and manifest has: what create, replace and apply take. */
export interface ObjectLike {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
}

/** Any object of the API: what a kind name the type system cannot resolve gives. */
export interface SandkastenObject extends ObjectLike {
  [field: string]: unknown;
}

/** The object type a kind name stands for. */
export type ObjectOf<K extends string> = [KindOf<K>] extends [never] ? SandkastenObject : KindMap[KindOf<K>];

/** A list answer: SessionList, WorkspaceList, ... */
export interface ObjectList<T> {
  apiVersion: string;
  kind: string;
  metadata: ListMeta;
  items: T[];
}

/** The resource table entry for a kind name; throws UnknownKindError when there is none. */
export function resolveKind(kind: string): ResourceInfo {
  const info = resolveResourceName(kind);
  if (!info) throw new UnknownKindError(`the server doesn't have a resource type "${kind}"`);
  return info;
}

/** The resource of a manifest's apiVersion and kind (as kubectl's "no matches for kind"). */
export function resolveManifestKind(obj: { apiVersion?: unknown; kind?: unknown }): ResourceInfo {
  if (typeof obj.kind !== 'string' || obj.kind === '') throw new UnknownKindError('object has no kind: every manifest needs apiVersion and kind');
  const info = resolveResourceName(obj.kind);
  if (!info || info.kind !== obj.kind || (obj.apiVersion !== undefined && obj.apiVersion !== GROUP_VERSION)) {
    throw new UnknownKindError(`no matches for kind "${obj.kind}" in version "${String(obj.apiVersion ?? '')}": Sandkasten serves ${GROUP_VERSION}`);
  }
  return info;
}

/** "session.sandkasten.dev", as kubectl names a resource in its messages. */
export function qualifiedName(info: ResourceInfo): string {
  return `${info.singular}.${info.group}`;
}

/**
 * The path of a collection (name undefined) or an object. `namespace` undefined on a namespaced
 * kind means every namespace (only for list and watch).
 */
export function resourcePath(info: ResourceInfo, namespace: string | undefined, name?: string, subresource?: string): string {
  let p = `/apis/${info.group}/${info.version}`;
  if (info.namespaced && namespace !== undefined) p += `/namespaces/${encodeURIComponent(namespace)}`;
  p += `/${info.plural}`;
  if (name !== undefined) {
    if (name === '') throw new TypeError(`a ${info.kind} name must not be empty`);
    p += `/${encodeURIComponent(name)}`;
    if (subresource) p += `/${subresource}`;
  }
  return p;
}
