/**
 * Faults on a namespace's policy routing and links: a network manager wiping the CNI's rules and
 * route tables, and an ENI going down (instance loss) and coming back.
 */
import {
  DEFAULT_RULE_PRIORITIES,
  parseIpJson,
  reconcileRoutes,
  reconcileRules,
  routeArgs,
  routeTable,
  routeUsesDevice,
  ruleArgs,
  type IpRoute,
  type IpRule,
} from '../ip-json.js';
import { BaseFault, FaultError, type ChaosContext } from '../fault.js';

const RULES_ARGV = ['ip', '-4', '-j', 'rule', 'show'];
/** Every IPv4 route of every table (`show table N` would leave `table` out of its JSON). */
const ROUTES_ARGV = ['ip', '-4', '-j', 'route', 'show', 'table', 'all'];

export interface WipeRulesOptions {
  /** Rule priorities to delete (every rule at each), or every rule but the three defaults (0, 32766, 32767). */
  rules?: readonly number[] | 'all-non-default';
  /** Route tables to flush. */
  routeTables?: readonly number[];
}

/**
 * Deletes policy rules and flushes route tables, as a network manager (systemd-networkd,
 * NetworkManager) that believes it owns the node's routing does when it reconfigures. Revert makes
 * the rules at those priorities and the routes of those tables exactly what they were.
 */
export class WipeRules extends BaseFault {
  readonly kind = 'wipe-rules';
  readonly label: string;
  private saved: { rules: IpRule[]; routes: Map<number, IpRoute[]> } | undefined;

  constructor(
    readonly host: string,
    readonly opts: WipeRulesOptions,
  ) {
    super();
    const parts: string[] = [];
    if (opts.rules === 'all-non-default') parts.push('all non-default ip rules');
    else if (opts.rules?.length) parts.push(`ip rules ${opts.rules.join(',')}`);
    if (opts.routeTables?.length) parts.push(`route tables ${opts.routeTables.join(',')}`);
    if (parts.length === 0) throw new FaultError('wipe rules', 'nothing to wipe: give rules or routeTables');
    this.label = `${parts.join(' and ')} wiped on ${host}`;
  }

  hosts(): string[] {
    return [this.host];
  }

  private selects(r: IpRule): boolean {
    const sel = this.opts.rules;
    if (sel === undefined) return false;
    if (sel === 'all-non-default') return !DEFAULT_RULE_PRIORITIES.includes(r.priority);
    return sel.includes(r.priority);
  }

  private async readRules(ctx: ChaosContext): Promise<IpRule[]> {
    const res = await this.run(ctx, this.host, RULES_ARGV);
    return parseIpJson<IpRule>(res.stdout, `${this.host}: ip rule`).filter((r) => this.selects(r));
  }

  /** Routes of one table. Read from `table all`: `ip route show table N` leaves the table out of its JSON. */
  private async readTable(ctx: ChaosContext, table: number): Promise<IpRoute[]> {
    const res = await this.run(ctx, this.host, ROUTES_ARGV);
    return parseIpJson<IpRoute>(res.stdout, `${this.host}: ip route`).filter(
      (r) => routeTable(r) === String(table),
    );
  }

  protected async doApply(ctx: ChaosContext): Promise<void> {
    const rules = await this.readRules(ctx);
    const routes = new Map<number, IpRoute[]>();
    for (const t of this.opts.routeTables ?? []) routes.set(t, await this.readTable(ctx, t));
    // Fails here, before any change, if something could not be put back.
    const lines = rules.map((r) => `rule del ${ruleArgs(r).join(' ')}`);
    for (const rs of routes.values()) rs.forEach((r) => routeArgs(r));
    this.saved = { rules, routes };
    for (const t of routes.keys()) lines.push(`route flush table ${t}`);
    if (lines.length)
      await this.run(ctx, this.host, ['ip', '-batch', '-'], { input: lines.join('\n') + '\n' });
  }

  protected async doRevert(ctx: ChaosContext): Promise<void> {
    if (!this.saved) return;
    const lines = reconcileRules(await this.readRules(ctx), this.saved.rules).lines;
    for (const [t, want] of this.saved.routes)
      lines.push(...reconcileRoutes(await this.readTable(ctx, t), want).lines);
    if (lines.length)
      await this.run(ctx, this.host, ['ip', '-batch', '-'], { input: lines.join('\n') + '\n' });
  }
}

export function wipeRules(host: string, opts: WipeRulesOptions): WipeRules {
  return new WipeRules(host, opts);
}

interface LinkRecord {
  up: boolean;
  routes: IpRoute[];
  neighbours: Record<string, unknown>[];
}

/**
 * `ip link set <iface> down`, then up again. Measured on this kernel: taking a link down removes
 * every route through it in every table (the CNI's ENI table loses its default and gateway
 * routes) and its permanent neighbour entries, keeps its IPv4 addresses; bringing it up re-adds
 * only the kernel's own routes, including the connected subnet route in main that the VPC CNI had
 * deleted for a secondary ENI. Revert therefore brings the link up, then makes the routes through
 * the device (all tables) and its permanent neighbours exactly what they were: missing ones added,
 * the kernel's extra connected route deleted. The veth peer (the fabric's port) only loses carrier:
 * its routes stay, flagged linkdown, until the link is back.
 */
export class LinkDown extends BaseFault {
  readonly kind = 'link-down';
  readonly label: string;
  private saved: LinkRecord | undefined;

  constructor(
    readonly host: string,
    readonly iface: string,
  ) {
    super();
    this.label = `${host}/${iface} down`;
  }

  hosts(): string[] {
    return [this.host];
  }

  private async routes(ctx: ChaosContext): Promise<IpRoute[]> {
    const res = await this.run(ctx, this.host, ROUTES_ARGV);
    return parseIpJson<IpRoute>(res.stdout, `${this.host}: ip route`).filter((r) =>
      routeUsesDevice(r, this.iface),
    );
  }

  private async neighbours(ctx: ChaosContext): Promise<Record<string, unknown>[]> {
    const res = await this.run(ctx, this.host, [
      'ip',
      '-4',
      '-j',
      'neigh',
      'show',
      'dev',
      this.iface,
      'nud',
      'permanent',
    ]);
    return parseIpJson<Record<string, unknown>>(res.stdout, `${this.host}: ip neigh`);
  }

  protected async doApply(ctx: ChaosContext): Promise<void> {
    const link = await this.run(ctx, this.host, ['ip', '-j', 'link', 'show', 'dev', this.iface]);
    const [info] = parseIpJson<{ flags?: string[] }>(link.stdout, `${this.host}: ip link`);
    const routes = await this.routes(ctx);
    routes.forEach((r) => routeArgs(r));
    this.saved = {
      up: info?.flags?.includes('UP') ?? false,
      routes,
      neighbours: await this.neighbours(ctx),
    };
    await this.run(ctx, this.host, ['ip', 'link', 'set', 'dev', this.iface, 'down']);
  }

  protected async doRevert(ctx: ChaosContext): Promise<void> {
    const saved = this.saved;
    if (!saved) return;
    if (saved.up) await this.run(ctx, this.host, ['ip', 'link', 'set', 'dev', this.iface, 'up']);
    const lines = reconcileRoutes(await this.routes(ctx), saved.routes).lines;
    const present = new Set((await this.neighbours(ctx)).map((n) => String(n['dst'])));
    for (const n of saved.neighbours)
      if (!present.has(String(n['dst'])))
        lines.push(
          `neigh replace ${String(n['dst'])} lladdr ${String(n['lladdr'])} dev ${this.iface} nud permanent`,
        );
    if (lines.length)
      await this.run(ctx, this.host, ['ip', '-batch', '-'], { input: lines.join('\n') + '\n' });
  }
}

export function linkDown(host: string, iface: string): LinkDown {
  return new LinkDown(host, iface);
}
