// Status conditions as Kubernetes keeps them: one per type, lastTransitionTime moving only when
// the condition's status changes.
import type { Condition } from '@sandkasten/api-schemas';
import { nowRfc3339 } from '../apiserver/index.js';

/** A condition as a reconciler states it; the times and generation are filled in here. */
export type Cond = Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>;

/** Sets a condition in `status.conditions`; lastTransitionTime moves only when its status changes. */
export function setCondition(status: { conditions?: Condition[] }, c: Cond, generation: number | undefined): void {
  const list = status.conditions ?? [];
  const old = list.find((x) => x.type === c.type);
  const next: Condition = {
    type: c.type,
    status: c.status,
    ...(c.reason !== undefined && { reason: c.reason }),
    ...(c.message !== undefined && { message: c.message }),
    lastTransitionTime: old && old.status === c.status && old.lastTransitionTime ? old.lastTransitionTime : nowRfc3339(),
    ...(generation !== undefined && { observedGeneration: generation }),
  };
  status.conditions = old ? list.map((x) => (x === old ? next : x)) : [...list, next];
}
