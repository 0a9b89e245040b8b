// skctl version [--client] [-o json|yaml] — the client's version and the server's /version.

import { CLIENT_VERSION, makeClient, type GlobalOptions } from '../connection.js';
import { CliError, describeError } from '../errors.js';
import { toJson, toYaml } from '../output/format.js';
import { out } from '../util.js';

export async function runVersion(o: { client?: boolean; output?: string }, g: GlobalOptions): Promise<number> {
  if (o.output !== undefined && o.output !== 'json' && o.output !== 'yaml') throw new CliError('--output must be yaml or json');
  const info: Record<string, unknown> = {
    clientVersion: { gitVersion: `v${CLIENT_VERSION}`, platform: `${process.platform}/${process.arch}`, nodeVersion: process.version },
  };
  let error: unknown;
  if (!o.client) {
    const { client } = await makeClient(g);
    try {
      info.serverVersion = await client.version();
    } catch (e) {
      error = e;
    } finally {
      client.close();
    }
  }
  if (o.output === 'json') out(toJson(info));
  else if (o.output === 'yaml') out(toYaml(info));
  else {
    out(`Client Version: v${CLIENT_VERSION}\n`);
    const sv = info.serverVersion as { gitVersion?: string } | undefined;
    if (sv) out(`Server Version: ${sv.gitVersion ?? 'unknown'}\n`);
  }
  if (error) {
    process.stderr.write(`${describeError(error)}\n`);
    return 1;
  }
  return 0;
}
