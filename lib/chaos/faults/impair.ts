/**
 * Link impairments without netem (this kernel has none): random packet loss with iptables'
 * statistic match, and rate limiting with queueing delay with tc's token bucket filter (tbf).
 */
import { emptyOwned, type OwnedRules } from '../iptables.js';
import { parseIpJson } from '../ip-json.js';
import { BaseFault, FaultError, type ChaosContext } from '../fault.js';
import { OwnChainFault } from './chain.js';

export type Direction = 'in' | 'out' | 'both';

/**
 * Drops each packet entering and/or leaving `iface` with probability `p`, in a chain of its own:
 * incoming in raw PREROUTING (before conntrack, so dropped packets leave no flow state), outgoing
 * in mangle POSTROUTING (forwarded and locally sent alike). With `both`, a round trip crosses the
 * filter twice: a SYN / SYN-ACK exchange survives with (1-p)^2, and the kernel retransmits a lost
 * SYN only after 1 s, so with sub-second connect deadlines lost SYNs show as timeouts.
 */
export class PacketLoss extends OwnChainFault {
  readonly kind = 'packet-loss';
  readonly label: string;

  constructor(
    readonly host: string,
    readonly iface: string,
    readonly probability: number,
    readonly direction: Direction = 'both',
  ) {
    super('LOSS');
    if (!(probability > 0 && probability <= 1))
      throw new FaultError('packet loss', `probability must be in (0, 1], got ${probability}`);
    const dir = direction === 'both' ? 'in+out' : direction;
    this.label = `${+(probability * 100).toFixed(2)}% loss on ${host}/${iface} (${dir})`;
  }

  hosts(): string[] {
    return [this.host];
  }

  protected async desired(): Promise<{ host: string; rules: OwnedRules }> {
    const drop = `-m statistic --mode random --probability ${this.probability.toFixed(10)} -m comment --comment "returnpath:chaos loss" -j DROP`;
    const o = emptyOwned();
    const add = (table: string, from: string, match: string): void => {
      o.chains.set(table, new Map([[this.chain, [drop]]]));
      o.jumps.push({ table, chain: from, index: 1, rule: `${match} -j ${this.chain}` });
    };
    if (this.direction !== 'out') add('raw', 'PREROUTING', `-i ${this.iface}`);
    if (this.direction !== 'in') add('mangle', 'POSTROUTING', `-o ${this.iface}`);
    return { host: this.host, rules: o };
  }
}

export function packetLoss(
  host: string,
  iface: string,
  probability: number,
  direction: Direction = 'both',
): PacketLoss {
  return new PacketLoss(host, iface, probability, direction);
}

export interface DelayOptions {
  /** Token rate in tc units: `64kbit`, `1mbit`, ... */
  rate: string;
  /** Bucket size in bytes: what may pass at line rate after an idle period; at least one packet. Default 1600. */
  burstBytes?: number;
  /** The longest a packet may wait for tokens before tbf drops it. */
  latencyMs: number;
}

interface Qdisc {
  kind: string;
  handle?: string;
  root?: boolean;
  options?: Record<string, unknown>;
}

/** Root qdiscs the kernel attaches by itself, so deleting ours brings them back. */
const DEFAULT_ROOT_KINDS: ReadonlySet<string> = new Set(['noqueue', 'pfifo_fast', 'fq_codel', 'mq', 'fq']);

/**
 * Egress rate limiting on `iface` with tbf (`tc qdisc replace dev IF root tbf rate R burst B latency L`).
 *
 * What tbf can emulate: a slow or congested link. Packets leave at `rate` once the bucket
 * (`burstBytes`) is empty; packets beyond it queue, so delay grows with the offered load, up to
 * `latencyMs`, after which tbf drops (tail drop). With a small bucket and a low rate, concurrent
 * connection attempts queue behind each other: connect times grow with their position in the queue.
 * What it cannot: a fixed propagation delay or jitter (an idle flow's packet finds a full bucket and
 * leaves at once, so a single handshake is barely slowed), reordering, or random loss (see
 * packetLoss). It shapes egress only: to slow the other direction, put it on the peer's egress
 * (the fabric port of an ENI, the node's pod veth).
 */
export class Delay extends BaseFault {
  readonly kind = 'delay';
  readonly label: string;
  private before: string | undefined;

  constructor(
    readonly host: string,
    readonly iface: string,
    readonly opts: DelayOptions,
  ) {
    super();
    if (!(opts.latencyMs > 0))
      throw new FaultError('delay', `latencyMs must be positive, got ${opts.latencyMs}`);
    if (!/^\d+(\.\d+)?([kmg]?(bit|bps))$/i.test(opts.rate))
      throw new FaultError('delay', `rate must be a tc rate such as 64kbit or 1mbit, got "${opts.rate}"`);
    this.label = `tbf ${opts.rate} burst ${this.burst}B latency ${opts.latencyMs}ms on ${host}/${iface}`;
  }

  private get burst(): number {
    return this.opts.burstBytes ?? 1600;
  }

  hosts(): string[] {
    return [this.host];
  }

  private async root(ctx: ChaosContext): Promise<Qdisc | undefined> {
    const res = await this.run(ctx, this.host, ['tc', '-j', 'qdisc', 'show', 'dev', this.iface]);
    return parseIpJson<Qdisc>(res.stdout, `${this.host}: tc qdisc`).find((q) => q.root);
  }

  protected async doApply(ctx: ChaosContext): Promise<void> {
    const root = await this.root(ctx);
    const kind = root?.kind ?? 'noqueue';
    if (!DEFAULT_ROOT_KINDS.has(kind))
      throw new FaultError(
        this.label,
        `${this.iface} already has a ${kind} root qdisc; only a default one (${[...DEFAULT_ROOT_KINDS].join(', ')}) can be restored exactly`,
      );
    this.before = kind;
    const { rate, latencyMs } = this.opts;
    await this.run(ctx, this.host, [
      'tc',
      'qdisc',
      'replace',
      'dev',
      this.iface,
      'root',
      'tbf',
      'rate',
      rate,
      'burst',
      String(this.burst),
      'latency',
      `${latencyMs}ms`,
    ]);
  }

  protected async doRevert(ctx: ChaosContext): Promise<void> {
    if (this.before === undefined) return;
    const now = await this.root(ctx);
    if (now?.kind === this.before) return;
    await this.run(ctx, this.host, ['tc', 'qdisc', 'del', 'dev', this.iface, 'root']);
    const back = (await this.root(ctx))?.kind ?? 'noqueue';
    if (back !== this.before)
      throw new FaultError(this.label, `root qdisc is ${back} after revert, was ${this.before}`);
  }
}

export function delay(host: string, iface: string, opts: DelayOptions): Delay {
  return new Delay(host, iface, opts);
}
