/**
 * `npm run bench`: prints the figures the README quotes. Needs root; run on an otherwise idle
 * machine. The VPC CNI component's cold build (last) takes several minutes on 2 cores.
 */
import { labUnavailable } from '../lib/lab/environment.js';
import { benchCluster } from './cluster.js';
import { benchKube } from './kube.js';
import { benchKind } from './kind.js';
import { benchLab } from './lab.js';
import { benchBuild, benchRealLab } from './real-cni.js';
import { benchRun } from './run.js';
import { benchTraffic } from './traffic.js';

async function main(): Promise<void> {
  const why = labUnavailable();
  if (why) {
    console.log(`benchmarks skipped: ${why}`);
    return;
  }
  const rows: Record<string, string | number> = {};
  Object.assign(rows, await benchLab(3, 4));
  Object.assign(rows, await benchLab(50, 10));
  Object.assign(rows, await benchRealLab(3, 4, true));
  Object.assign(rows, await benchRealLab(50, 10));
  Object.assign(rows, await benchTraffic());
  Object.assign(rows, await benchRun());
  Object.assign(rows, await benchKube());
  Object.assign(rows, await benchCluster());
  Object.assign(rows, await benchBuild());
  Object.assign(rows, await benchKind());
  const width = Math.max(...Object.keys(rows).map((k) => k.length));
  for (const [k, v] of Object.entries(rows)) console.log(`${k.padEnd(width)}  ${v}`);
}

await main();
