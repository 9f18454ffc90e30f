/**
 * A lab plan: everything the kernel must be told, as data, per host (network namespace).
 * Generated purely from the topology (golden-testable); applied by realize.ts in batched phases.
 */
import { Ruleset } from '../netfilter/ruleset.js';

export type HostKind = 'fabric' | 'node' | 'pod' | 'internet' | 'nlb';

export interface ProcessPlan {
  /** What it is, for logs and teardown messages. */
  name: string;
  /** argv run inside the host; `{node}` is replaced by the Node.js binary, `{dist}` by the build directory. */
  argv: string[];
  /** A line the process prints on stdout once it is ready. */
  readyLine: string;
  /** How many ready lines to wait for. */
  readyCount: number;
  /** Arguments added when the lab is left up (the process must outlive the command that started it). */
  detachedArgv?: string[];
}

export interface HostPlan {
  /** Logical id: `fabric`, `node/NAME`, `pod/NAME`, `internet/NAME`, `nlb/LB/ZONE`. */
  id: string;
  kind: HostKind;
  netns: string;
  /** Main address, for summaries. */
  address?: string;
  /** sysctl settings made before any interface exists (conf/all, conf/default, ip_forward, neigh/default). */
  sysctlsEarly: [string, string][];
  /** `ip -batch` lines creating veth pairs from this namespace (peers are moved to others). */
  links: string[];
  /** `ip -batch` lines run once every link exists: addresses, up, routes, rules, neighbours. */
  config: string[];
  /** Per-interface sysctls, set after the interfaces exist. */
  sysctlsLate: [string, string][];
  ruleset: Ruleset;
  processes: ProcessPlan[];
  /** Human-readable notes shown by `lab dump` (e.g. which fabric port leads where). */
  legend: string[];
  /** MAC address of each interface this plan creates in the host (a real CNI finds ENIs by MAC). */
  macs: Record<string, string>;
  /**
   * The pid of a process whose network namespace this host is (a kind node container's): the
   * namespace is attached under the host's name, never created, and on teardown only detached
   * (what runs inside is not the lab's to kill).
   */
  adopt?: number;
}

export interface LabPlan {
  runId: string;
  hosts: HostPlan[];
}

export const NETNS_PREFIX = 'rp-';
export const RUN_ID = /^[0-9a-f]{6}$/;

export function netnsName(runId: string, hostId: string): string {
  return `${NETNS_PREFIX}${runId}-${hostId.replace(/\//g, '-')}`;
}

/** Parses `rp-<run>-...` namespace names; undefined for anything that is not returnpath's. */
export function runIdOf(netns: string): string | undefined {
  const m = /^rp-([0-9a-f]{6})-[a-z0-9-]+$/.exec(netns);
  return m?.[1];
}

/** Accumulates host plans and hands out locally administered MAC addresses, deterministically. */
export class PlanBuilder {
  readonly hosts: HostPlan[] = [];
  private readonly byId = new Map<string, HostPlan>();
  private macs = 0;

  constructor(readonly runId: string) {}

  host(id: string, kind: HostKind, address?: string): HostPlan {
    const existing = this.byId.get(id);
    if (existing) return existing;
    const h: HostPlan = {
      id,
      kind,
      netns: netnsName(this.runId, id),
      address,
      sysctlsEarly: [],
      links: [],
      config: [],
      sysctlsLate: [],
      ruleset: new Ruleset(),
      processes: [],
      legend: [],
      macs: {},
    };
    this.hosts.push(h);
    this.byId.set(id, h);
    return h;
  }

  get(id: string): HostPlan {
    const h = this.byId.get(id);
    if (!h) throw new Error(`no host ${id} in plan`);
    return h;
  }

  /** 02:xx:xx:xx:xx:xx, unique within the lab. */
  mac(): string {
    const n = ++this.macs;
    const b = [0x02, 0x52, (n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
    return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
  }

  /**
   * A veth pair from `a` (interface `aIf`) to `b` (interface `bIf`), created from a's namespace.
   * Returns the MACs so callers can write permanent neighbour entries.
   */
  veth(a: HostPlan, aIf: string, b: HostPlan, bIf: string): { aMac: string; bMac: string } {
    const aMac = this.mac();
    const bMac = this.mac();
    a.links.push(
      `link add name ${aIf} address ${aMac} type veth peer name ${bIf} address ${bMac} netns ${b.netns}`,
    );
    a.macs[aIf] = aMac;
    b.macs[bIf] = bMac;
    return { aMac, bMac };
  }

  build(): LabPlan {
    return { runId: this.runId, hosts: this.hosts };
  }
}
