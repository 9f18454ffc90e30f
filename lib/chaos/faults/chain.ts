/** Faults that own iptables chains in a namespace: install, sync and remove them, exactly. */
import { randomBytes } from 'node:crypto';
import {
  IPTABLES_RESTORE_NOFLUSH,
  IPTABLES_SAVE_ARGV,
  emptyOwned,
  ownedRules,
  parseIptablesState,
  savedTables,
  syncOwnedScript,
  tablesToDrop,
  type IptablesState,
  type OwnedRules,
} from '../iptables.js';
import { BaseFault, type ChaosContext } from '../fault.js';

/** Prefix of every chain a fault creates; `returnpath lab clean` never needs to know it (namespaces go). */
export const CHAOS_CHAIN_PREFIX = 'RPCHAOS-';

/** A fresh chain name, unique per fault instance (iptables allows 28 characters). */
export function chaosChainName(tag: string): string {
  return `${CHAOS_CHAIN_PREFIX}${tag.toUpperCase().slice(0, 10)}-${randomBytes(3).toString('hex')}`;
}

export abstract class ChainFault extends BaseFault {
  protected async readIptables(ctx: ChaosContext, host: string): Promise<IptablesState> {
    const res = await this.run(ctx, host, IPTABLES_SAVE_ARGV);
    return parseIptablesState(res.stdout, `${host}: iptables-save`);
  }

  /** Makes the chains `owns` accepts (and the jumps into them) equal to `desired`, in one restore. */
  protected async syncOwned(
    ctx: ChaosContext,
    host: string,
    owns: (chain: string) => boolean,
    desired: OwnedRules,
    state?: IptablesState,
  ): Promise<void> {
    const now = state ?? (await this.readIptables(ctx, host));
    const script = syncOwnedScript(now.save, ownedRules(now.save, owns), desired);
    if (script) await this.run(ctx, host, IPTABLES_RESTORE_NOFLUSH, { input: script });
  }

  /** Deletes the tables that did not exist in `before` and hold nothing now (iptables-nft leaves them). */
  protected async dropCreatedTables(
    ctx: ChaosContext,
    host: string,
    before: ReadonlySet<string>,
  ): Promise<void> {
    const drop = tablesToDrop(before, await this.readIptables(ctx, host));
    if (drop.length)
      await this.run(ctx, host, ['nft', '-f', '-'], {
        input: drop.map((t) => `delete table ip ${t}`).join('\n') + '\n',
      });
  }
}

/**
 * A fault that installs one chain of its own (in one or more tables) plus jumps to it, and on
 * revert removes exactly those, deleting any table its install created.
 */
export abstract class OwnChainFault extends ChainFault {
  protected readonly chain: string;
  private installed: { host: string; tablesBefore: Set<string> } | undefined;

  constructor(tag: string) {
    super();
    this.chain = chaosChainName(tag);
  }

  /** The chain's rules per table, and the jumps to it. Called at apply time. */
  protected abstract desired(ctx: ChaosContext): Promise<{ host: string; rules: OwnedRules }>;

  protected async doApply(ctx: ChaosContext): Promise<void> {
    const { host, rules } = await this.desired(ctx);
    const state = await this.readIptables(ctx, host);
    this.installed = { host, tablesBefore: savedTables(state.save) };
    await this.syncOwned(ctx, host, (c) => c === this.chain, rules, state);
  }

  protected async doRevert(ctx: ChaosContext): Promise<void> {
    if (!this.installed) return;
    const { host, tablesBefore } = this.installed;
    await this.syncOwned(ctx, host, (c) => c === this.chain, emptyOwned());
    await this.dropCreatedTables(ctx, host, tablesBefore);
  }

  /** One chain with `rules` in `table`, jumped to from the top of `from` with `match`. */
  protected single(table: string, from: string, match: string, rules: string[]): OwnedRules {
    const o = emptyOwned();
    o.chains.set(table, new Map([[this.chain, rules]]));
    o.jumps.push({ table, chain: from, index: 1, rule: `${match ? `${match} ` : ''}-j ${this.chain}` });
    return o;
  }
}
