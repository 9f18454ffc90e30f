/** One traffic agent per lab host, started on first use and stopped with the lab. */
import { TrafficAgent } from '../traffic/agent.js';
import type { Lab } from './lab.js';

export class LabAgents {
  private readonly agents = new Map<string, Promise<TrafficAgent>>();

  constructor(private readonly lab: Lab) {}

  get(hostRef: string): Promise<TrafficAgent> {
    const exec = this.lab.host(hostRef);
    let a = this.agents.get(exec.host);
    if (!a) {
      a = TrafficAgent.start(exec, { name: exec.host });
      this.agents.set(exec.host, a);
      this.lab.defer(`traffic agent in ${exec.host}`, async () => (await a!).close());
    }
    return a;
  }

  /** Starts a TCP server named after the host on `port` in each host. */
  async serve(hostRefs: readonly string[], port: number): Promise<void> {
    await Promise.all(
      hostRefs.map(async (h) =>
        (await this.get(h)).startServer({ name: this.lab.host(h).host, kind: 'tcp', port }),
      ),
    );
  }
}
