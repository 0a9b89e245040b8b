// The resource table: everything the API server, discovery and the CLI need to know about each
// kind, in one place (names, scope, verbs, subresources, table columns).
import type { ServedKindName } from './types.js';

export interface PrinterColumn {
  name: string;
  /** OpenAPI type of the cell: string, integer, number, boolean or date (rendered as an age). */
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  /** JSONPath into the object, e.g. ".status.phase". */
  jsonPath: string;
  description?: string;
  /** 0: always shown; 1: only with -o wide. */
  priority?: number;
}

export interface ResourceInfo {
  group: 'sandkasten.dev';
  version: 'v1';
  kind: ServedKindName;
  listKind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  verbs: string[];
  categories?: string[];
  subresources: string[];
  printerColumns: PrinterColumn[];
  /**
   * Fields a field selector may name besides metadata.name and metadata.namespace, as JSONPaths
   * (".involvedObject.name"); the selector names them without the leading dot. As a CRD's
   * selectableFields.
   */
  selectableFields?: string[];
}

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const age = (): PrinterColumn => ({ name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' });

const table: ResourceInfo[] = [
  {
    group: 'sandkasten.dev',
    version: 'v1',
    kind: 'Session',
    listKind: 'SessionList',
    plural: 'sessions',
    singular: 'session',
    namespaced: true,
    shortNames: ['ses', 'sess'],
    verbs: [...VERBS],
    categories: ['sandkasten'],
    // exec, fs, attach and stats are served by talking to the session's sandbox (not stored).
    subresources: ['status', 'exec', 'fs', 'attach', 'stats'],
    printerColumns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Lifecycle phase of the session' },
      { name: 'Image', type: 'string', jsonPath: '.spec.image', description: 'Image the root filesystem is made from' },
      age(),
      { name: 'Network', type: 'string', jsonPath: '.spec.network.mode', priority: 1 },
      { name: 'Expires', type: 'date', jsonPath: '.status.expireTime', description: 'When the session expires without activity', priority: 1 },
      { name: 'Reason', type: 'string', jsonPath: '.status.reason', priority: 1 },
    ],
  },
  {
    group: 'sandkasten.dev',
    version: 'v1',
    kind: 'Workspace',
    listKind: 'WorkspaceList',
    plural: 'workspaces',
    singular: 'workspace',
    namespaced: true,
    shortNames: ['ws'],
    verbs: [...VERBS],
    categories: ['sandkasten'],
    subresources: ['status'],
    printerColumns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Size', type: 'integer', jsonPath: '.status.sizeBytes', description: 'Bytes used' },
      age(),
      { name: 'Reclaim', type: 'string', jsonPath: '.spec.reclaimPolicy', priority: 1 },
    ],
  },
  {
    group: 'sandkasten.dev',
    version: 'v1',
    kind: 'Image',
    listKind: 'ImageList',
    plural: 'images',
    singular: 'image',
    namespaced: false,
    shortNames: ['img'],
    verbs: [...VERBS],
    categories: ['sandkasten'],
    subresources: ['status'],
    printerColumns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Source', type: 'string', jsonPath: '.spec.source' },
      { name: 'Progress', type: 'string', jsonPath: '.status.progress.summary', description: 'Progress of the current (or last) pull' },
      { name: 'Size', type: 'integer', jsonPath: '.status.sizeBytes', description: 'Unpacked size in bytes' },
      age(),
      { name: 'Layers', type: 'integer', jsonPath: '.status.layerCount', priority: 1 },
      { name: 'Digest', type: 'string', jsonPath: '.status.digest', priority: 1 },
      { name: 'Reason', type: 'string', jsonPath: '.status.reason', priority: 1 },
    ],
  },
  {
    // Written by the controllers. Not in the "sandkasten" category: like Kubernetes' events, they
    // are not among the things `get sandkasten` (or `get all`) lists.
    group: 'sandkasten.dev',
    version: 'v1',
    kind: 'Event',
    listKind: 'EventList',
    plural: 'events',
    singular: 'event',
    namespaced: true,
    shortNames: ['ev'],
    verbs: [...VERBS],
    subresources: [],
    printerColumns: [
      { name: 'Last Seen', type: 'date', jsonPath: '.lastTimestamp', description: 'When the event last occurred' },
      { name: 'Type', type: 'string', jsonPath: '.type' },
      { name: 'Reason', type: 'string', jsonPath: '.reason' },
      // A printer column is one JSONPath, so the kind has a (wide) column of its own.
      { name: 'Object', type: 'string', jsonPath: '.involvedObject.name', description: 'Name of the object the event is about' },
      { name: 'Message', type: 'string', jsonPath: '.message' },
      { name: 'Kind', type: 'string', jsonPath: '.involvedObject.kind', priority: 1 },
      { name: 'Source', type: 'string', jsonPath: '.source.component', priority: 1 },
      { name: 'First Seen', type: 'date', jsonPath: '.firstTimestamp', priority: 1 },
      { name: 'Count', type: 'integer', jsonPath: '.count', priority: 1 },
    ],
    // Kubernetes' field selectors for events, minus the fields this trimmed Event lacks.
    selectableFields: [
      '.involvedObject.apiVersion',
      '.involvedObject.kind',
      '.involvedObject.name',
      '.involvedObject.namespace',
      '.involvedObject.uid',
      '.involvedObject.resourceVersion',
      '.reason',
      '.type',
      '.source.component',
      '.reportingComponent',
    ],
  },
  {
    // Written by the daemon's GitOps syncer about the directory it keeps applied. Not in the
    // "sandkasten" category: it reports on the things users declare rather than being one of them.
    group: 'sandkasten.dev',
    version: 'v1',
    kind: 'GitOpsSync',
    listKind: 'GitOpsSyncList',
    plural: 'gitopssyncs',
    singular: 'gitopssync',
    namespaced: false,
    shortNames: ['gitops'],
    verbs: [...VERBS],
    subresources: ['status'],
    printerColumns: [
      { name: 'Synced', type: 'string', jsonPath: '.status.conditions[?(@.type=="Synced")].status', description: 'Every manifest applied' },
      { name: 'Applied', type: 'integer', jsonPath: '.status.applied', description: 'Objects the last sync created or changed' },
      { name: 'Pruned', type: 'integer', jsonPath: '.status.pruned', description: 'Objects the last sync deleted' },
      { name: 'Failed', type: 'integer', jsonPath: '.status.failed', description: 'Manifests the last sync could not apply' },
      { name: 'Commit', type: 'string', jsonPath: '.status.shortCommit', description: 'Git commit of the directory' },
      { name: 'Last Sync', type: 'date', jsonPath: '.status.lastSyncTime' },
      { name: 'Objects', type: 'integer', jsonPath: '.status.objects', priority: 1 },
      { name: 'Orphaned', type: 'integer', jsonPath: '.status.orphaned', priority: 1 },
      { name: 'Branch', type: 'string', jsonPath: '.status.branch', priority: 1 },
      { name: 'Path', type: 'string', jsonPath: '.spec.path', priority: 1 },
    ],
  },
];

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object') {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

/** The table itself; frozen, because every part of the process shares it. */
export const resources: readonly ResourceInfo[] = deepFreeze(table);

/** The resource with this plural ("sessions"), exactly. */
export function findResourceByPlural(plural: string): ResourceInfo | undefined {
  return resources.find((r) => r.plural === plural);
}

/** The resource of this kind ("Session"), exactly. */
export function findResourceByKind(kind: string): ResourceInfo | undefined {
  return resources.find((r) => r.kind === kind);
}

/**
 * What a user typed, as kubectl resolves it: plural, singular, short name or kind, any case,
 * optionally qualified with the group ("sessions.sandkasten.dev").
 */
export function resolveResourceName(name: string): ResourceInfo | undefined {
  let n = name.trim().toLowerCase();
  const dot = n.indexOf('.');
  if (dot >= 0) {
    const group = n.slice(dot + 1);
    if (group !== 'sandkasten.dev' && group !== 'v1.sandkasten.dev') return undefined;
    n = n.slice(0, dot);
  }
  if (n === '') return undefined;
  return resources.find((r) => r.plural === n || r.singular === n || r.kind.toLowerCase() === n || r.shortNames.includes(n));
}
