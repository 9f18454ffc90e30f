/** Whether the built-in lab can run on this machine: root and the tools it calls. */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const TOOLS = ['ip', 'nsenter', 'iptables-restore', 'iptables-save', 'sysctl', 'conntrack', 'nft'];

function onPath(tool: string): boolean {
  return (process.env['PATH'] ?? '').split(delimiter).some((d) => {
    try {
      accessSync(join(d, tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Why the lab cannot run here, or undefined when it can. */
export function labUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, iptables)';
  const missing = TOOLS.filter((t) => !onPath(t));
  return missing.length ? `missing tools: ${missing.join(', ')}` : undefined;
}
