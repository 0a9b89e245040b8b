// Discovery documents, in the legacy shapes (APIGroupList, APIGroup, APIResourceList) and the
// aggregated apidiscovery.k8s.io/v2 shape kubectl asks for first.

import { createHash } from 'node:crypto';
import type { Request } from 'express';
import type { ResourceDef, ResourceTable } from './resources.js';
import { GROUP, GROUP_VERSION, VERSION } from './resources.js';

export const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const STATUS_VERBS = ['get', 'patch', 'update'];

const groupVersion = { groupVersion: GROUP_VERSION, version: VERSION };

export function apiGroup() {
  return { name: GROUP, versions: [groupVersion], preferredVersion: groupVersion };
}

export function apiGroupList() {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: [apiGroup()] };
}

export function apiVersions() {
  return { kind: 'APIVersions', versions: [], serverAddressByClientCIDRs: null };
}

function storageVersionHash(d: ResourceDef): string {
  return createHash('sha256').update(`${d.group}/${d.version}/${d.kind}`).digest('base64').slice(0, 11);
}

/** The verbs (as Kubernetes names HTTP methods) of the subresources extensions serve. */
function subresourceVerbs(sub: string): string[] {
  switch (sub) {
    case 'exec':
      return ['create'];
    case 'fs':
      return ['create', 'delete', 'get', 'update'];
    default:
      // attach (a WebSocket opened with GET), stats
      return ['get'];
  }
}

export function apiResourceList(table: ResourceTable) {
  const resources: unknown[] = [];
  for (const d of table.defs) {
    resources.push({
      name: d.plural,
      singularName: d.singular,
      namespaced: d.namespaced,
      kind: d.kind,
      verbs: VERBS,
      shortNames: d.shortNames,
      categories: d.categories,
      storageVersionHash: storageVersionHash(d),
    });
    if (d.hasStatus) {
      resources.push({ name: `${d.plural}/status`, singularName: '', namespaced: d.namespaced, kind: d.kind, verbs: STATUS_VERBS });
    }
    for (const sub of d.subresources ?? []) {
      resources.push({ name: `${d.plural}/${sub}`, singularName: '', namespaced: d.namespaced, kind: '', verbs: subresourceVerbs(sub) });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: GROUP_VERSION, resources };
}

export const AGGREGATED_V2 = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
export const AGGREGATED_V2BETA1 = 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList';

/** Which aggregated discovery version the Accept header asks for, if any (first match wins). */
export function wantsAggregated(req: Request): 'v2' | 'v2beta1' | undefined {
  const accept = req.headers.accept ?? '';
  for (const part of accept.split(',')) {
    const p = part.split(';').map((s) => s.trim());
    if (!p.includes('g=apidiscovery.k8s.io') || !p.includes('as=APIGroupDiscoveryList')) continue;
    if (p.includes('v=v2')) return 'v2';
    if (p.includes('v=v2beta1')) return 'v2beta1';
  }
  return undefined;
}

export function aggregatedDiscovery(table: ResourceTable, version: 'v2' | 'v2beta1', core: boolean) {
  const items = core
    ? []
    : [
        {
          metadata: { name: GROUP },
          versions: [
            {
              version: VERSION,
              freshness: 'Current',
              resources: table.defs.map((d) => ({
                resource: d.plural,
                responseKind: { group: d.group, version: d.version, kind: d.kind },
                scope: d.namespaced ? 'Namespaced' : 'Cluster',
                singularResource: d.singular,
                verbs: VERBS,
                shortNames: d.shortNames,
                categories: d.categories,
                ...(d.hasStatus || (d.subresources ?? []).length > 0
                  ? {
                      subresources: [
                        ...(d.hasStatus
                          ? [{ subresource: 'status', responseKind: { group: d.group, version: d.version, kind: d.kind }, verbs: STATUS_VERBS }]
                          : []),
                        ...(d.subresources ?? []).map((sub) => ({ subresource: sub, responseKind: { group: '', version: '', kind: '' }, verbs: subresourceVerbs(sub) })),
                      ],
                    }
                  : {}),
              })),
            },
          ],
        },
      ];
  return { kind: 'APIGroupDiscoveryList', apiVersion: `apidiscovery.k8s.io/${version}`, metadata: {}, items };
}

export function versionInfo(packageVersion: string) {
  return {
    major: '1',
    minor: '32',
    gitVersion: `v1.32.0+sandkasten-${packageVersion}`,
    gitCommit: '',
    gitTreeState: 'clean',
    buildDate: '1970-01-01T00:00:00Z',
    goVersion: `node${process.versions.node}`,
    compiler: 'node',
    platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
  };
}
