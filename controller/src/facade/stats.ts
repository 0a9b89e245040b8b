// GET /v1/sessions/{id}/stats: the original's three figures, read from the sandbox's cgroup.

import type { Request, Response } from 'express';
import { sendJson } from '../apiserver/reply.js';
import { CgroupGoneError, readCgroupStats } from '../subresources/stats.js';
import { checkSessionId } from './body.js';
import type { FacadeContext } from './context.js';
import { ErrorCode, SeedError } from './errors.js';

export function statsHandler(ctx: FacadeContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const id = checkSessionId(req.params.id as string);
    const rs = await ctx.lookup.ready(id);
    ctx.activity.touch(rs.session);
    let st;
    try {
      st = readCgroupStats(rs.location.cgroup);
    } catch (e) {
      if (e instanceof CgroupGoneError) throw new SeedError(503, ErrorCode.SessionUnavailable, `session ${id}: ${e.message} (the sandbox is not running)`);
      throw e;
    }
    // 0 stands for "unknown" / "no limit", where the original had numbers only.
    sendJson(res, 200, {
      memory_bytes: st.memory.usageBytes ?? 0,
      memory_limit: st.memory.limitBytes ?? 0,
      cpu_usage_usec: st.cpu.usageNanoseconds === null ? 0 : Math.floor(st.cpu.usageNanoseconds / 1000),
    });
  };
}
