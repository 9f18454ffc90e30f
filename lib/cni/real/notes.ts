/**
 * What a real CNI wrote on its nodes, as notes for a cell's evidence: the policy rules (and, for
 * the VPC CNI with the nf_tables backend, its nft table) read back from each real node after the
 * lab came up. Emulated nodes have none: their rules are the plan's.
 */
import type { LabHandle } from '../../lab/lab.js';
import { realCni, type Topology } from '../../model/topology.js';
import { describeCni } from '../index.js';

export interface CniNote {
  host: string;
  summary: string;
}

/** `512: from all to 10.0.1.50 lookup main` -> `512 to 10.0.1.50 lookup main`, default rules dropped. */
export function summarizeRules(ipRuleShow: string): string[] {
  return ipRuleShow
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^(0|32766|32767):\s/.test(l))
    .map((l) =>
      l
        .replace(/^(\d+):\s+/, '$1 ')
        .replace(/from all /, '')
        .replace(/\s+/g, ' '),
    );
}

export async function realCniNotes(lab: LabHandle, topology: Topology): Promise<CniNote[]> {
  const nodes = topology.nodes.filter((n) => realCni(n.cni));
  return Promise.all(
    nodes.map(async (n) => {
      const host = lab.host(`node/${n.name}`);
      const [rules, nft] = await Promise.all([
        host.run(['ip', 'rule', 'show']).then((r) => summarizeRules(r.stdout)),
        host
          .run(['nft', 'list', 'tables'], { allowFailure: true })
          .then((r) => r.stdout.split('\n').filter((l) => /^table ip aws-cni\b/.test(l.trim()))),
      ]);
      const extra = nft.length ? `; nft: ${nft.map((t) => t.trim()).join(', ')}` : '';
      return {
        host: `node/${n.name}`,
        summary: `${describeCni(n.cni)} wrote: ${rules.join('; ') || 'no policy rules'}${extra}`,
      };
    }),
  );
}
