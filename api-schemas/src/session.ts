// Small readers of a Session's spec that reconcilers and the API server share.
import type { SessionSpec } from './generated/Session.js';

export const DEFAULT_WORKSPACE_MOUNT_PATH = '/workspace';

/** The workspace a session mounts, in its long form, or undefined when it mounts none. */
export function sessionWorkspaceMount(spec: SessionSpec | undefined): { name: string; mountPath: string } | undefined {
  const ws = spec?.workspace;
  if (ws === undefined || ws === '') return undefined;
  if (typeof ws === 'string') return { name: ws, mountPath: DEFAULT_WORKSPACE_MOUNT_PATH };
  return { name: ws.name, mountPath: ws.mountPath ?? DEFAULT_WORKSPACE_MOUNT_PATH };
}
