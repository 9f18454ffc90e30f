/** Faults that change a namespace's sysctls: rp_filter mid-run, a narrowed ephemeral port range. */
import type { LongLivedHandle } from '../../traffic/agent.js';
import type { LongLivedReport } from '../../traffic/protocol.js';
import { BaseFault, FaultError, type ChaosContext } from '../fault.js';

/** Sets net.* sysctls in one host, restoring their previous values on revert. */
export class SysctlFault extends BaseFault {
  readonly kind: string;
  readonly label: string;
  private previous: [string, string][] | undefined;

  constructor(
    readonly host: string,
    readonly values: readonly [string, string][],
    opts: { label?: string; kind?: string } = {},
  ) {
    super();
    this.kind = opts.kind ?? 'sysctl';
    this.label = opts.label ?? `${values.map(([k, v]) => `${k}=${v}`).join(' ')} on ${host}`;
  }

  hosts(): string[] {
    return [this.host];
  }

  protected async doApply(ctx: ChaosContext): Promise<void> {
    const previous: [string, string][] = [];
    for (const [k] of this.values) {
      // Per network namespace: /proc/sys/net shows the reading process's namespace.
      const res = await this.run(ctx, this.host, ['sysctl', '-n', k]);
      // Multi-value keys (ip_local_port_range) print tab-separated.
      previous.push([k, res.stdout.trim().replace(/\s+/g, ' ')]);
    }
    this.previous = previous;
    await this.run(ctx, this.host, ['sysctl', '-q', '-w', ...this.values.map(([k, v]) => `${k}=${v}`)]);
  }

  protected async doRevert(ctx: ChaosContext): Promise<void> {
    if (!this.previous?.length) return;
    await this.run(ctx, this.host, ['sysctl', '-q', '-w', ...this.previous.map(([k, v]) => `${k}=${v}`)]);
  }
}

/**
 * `net.ipv4.conf.<iface>.rp_filter = value` on a host; iface may be `all` or `default`. The kernel
 * uses max(all, iface); `default` only seeds interfaces created later, so changing it mid-run has no
 * effect on existing interfaces (a fault that shows it).
 */
export function rpFilter(host: string, iface: string, value: 0 | 1 | 2): SysctlFault {
  return new SysctlFault(host, [[`net.ipv4.conf.${iface}.rp_filter`, String(value)]], {
    kind: 'rp-filter',
    label: `rp_filter=${value} on ${host}/${iface}`,
  });
}

export interface PortExhaustionOptions {
  /** The new net.ipv4.ip_local_port_range, inclusive. */
  range: readonly [number, number];
  /**
   * Open this many long-lived connections (default: the size of the range) from the host to
   * `host:port` while the fault is on, so the range is in use. Linux keeps 4-tuples unique, not
   * ports: only connections to the same destination address and port compete for the range.
   */
  hold?: { host: string; port: number; connections?: number };
}

/**
 * Narrows the client's ephemeral port range and optionally holds connections that use it up.
 * Measured here: a connect() to the held destination then fails at once with EADDRNOTAVAIL
 * (outcome `other`, ~2 ms), while other destinations still connect from the same ports. After the
 * held connections close they sit in TIME_WAIT (60 s) on the client, so the range stays used up
 * for that destination until revert widens it again.
 */
export class SourcePortExhaustion extends BaseFault {
  readonly kind = 'source-port-exhaustion';
  readonly label: string;
  private readonly sysctl: SysctlFault;
  private held: LongLivedHandle | undefined;
  /** The held connections as they were opened (apply) and as they ended (revert). */
  opened: LongLivedReport | undefined;
  closed: LongLivedReport | undefined;

  constructor(
    readonly host: string,
    readonly opts: PortExhaustionOptions,
  ) {
    super();
    const [lo, hi] = opts.range;
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 1 || hi > 65535 || lo > hi)
      throw new FaultError('source port exhaustion', `bad port range ${lo}-${hi}`);
    const hold = opts.hold
      ? ` (${opts.hold.connections ?? hi - lo + 1} held to ${opts.hold.host}:${opts.hold.port})`
      : '';
    this.label = `ports ${lo}-${hi} on ${host}${hold}`;
    this.sysctl = new SysctlFault(host, [['net.ipv4.ip_local_port_range', `${lo} ${hi}`]], {
      label: this.label,
    });
  }

  hosts(): string[] {
    return [this.host];
  }

  override get commands(): readonly string[] {
    return [...this.sysctl.commands, ...super.commands];
  }

  protected async doApply(ctx: ChaosContext): Promise<void> {
    await this.sysctl.apply(ctx);
    const hold = this.opts.hold;
    if (!hold) return;
    const [lo, hi] = this.opts.range;
    const connections = hold.connections ?? hi - lo + 1;
    this.note(`hold ${connections} connections from ${this.host} to ${hold.host}:${hold.port}`);
    const agent = await ctx.agent(this.host);
    this.held = await agent.longLived({ host: hold.host, port: hold.port, connections, intervalMs: 1000 });
    this.opened = this.held.opened;
  }

  protected async doRevert(ctx: ChaosContext): Promise<void> {
    const errors: unknown[] = [];
    if (this.held) {
      try {
        this.closed = await this.held.stop();
        this.held = undefined;
      } catch (e) {
        errors.push(e);
      }
    }
    try {
      await this.sysctl.revert(ctx);
    } catch (e) {
      errors.push(e);
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `${this.label}: revert failed`);
  }
}

export function sourcePortExhaustion(host: string, opts: PortExhaustionOptions): SourcePortExhaustion {
  return new SourcePortExhaustion(host, opts);
}
