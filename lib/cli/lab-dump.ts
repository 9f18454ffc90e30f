/** `lab dump`: the state of every host (or one) of a run, as the evidence layer collects it. */
import { mapLimit } from '../exec/command.js';
import { collectHostState, renderHostState } from '../evidence/dump.js';
import { findHost, type LabHandle } from '../lab/lab.js';

export async function dumpLab(handle: LabHandle, hostRef?: string): Promise<string> {
  const hosts = hostRef ? [findHost(handle.hosts, hostRef)] : handle.hosts;
  const texts = await mapLimit(hosts, 4, async (h) => {
    const legend = (h.legend ?? []).map((l) => `  ${l}`);
    const state = renderHostState(await collectHostState(handle.host(h.id)));
    return [`=== ${h.id}`, ...legend, state].join('\n') + '\n';
  });
  return `run ${handle.runId} (${handle.state.topology})\n\n` + texts.join('');
}
