/** Flushing a namespace's conntrack table: every flow it tracks (NAT bindings, marks) forgotten. */
import { BaseFault, type ChaosContext } from '../fault.js';

/**
 * `conntrack -F` on a node or an NLB node. There is nothing to restore (the flows are gone), so
 * revert is a no-op, but the fault still has a window: what breaks shows after the flush. On an
 * NLB node (nf_conntrack_tcp_loose=0) the next packet of every established flow is INVALID and
 * answered with a RST: long-lived connections through it are reset, new ones are unaffected. On a
 * Kubernetes node (tcp_loose=1) mid-stream packets are picked up as new flows and NATed again, so
 * a Service flow may be sent to another endpoint (reset by it) or masqueraded to another port.
 */
export class ConntrackFlush extends BaseFault {
  readonly kind = 'conntrack-flush';
  readonly label: string;

  constructor(readonly host: string) {
    super();
    this.label = `conntrack flushed on ${host}`;
  }

  hosts(): string[] {
    return [this.host];
  }

  protected async doApply(ctx: ChaosContext): Promise<void> {
    await this.run(ctx, this.host, ['conntrack', '-F']);
  }

  protected async doRevert(): Promise<void> {
    // The flows are gone; nothing to put back.
  }
}

export function conntrackFlush(host: string): ConntrackFlush {
  return new ConntrackFlush(host);
}
