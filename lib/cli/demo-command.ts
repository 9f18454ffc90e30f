/**
 * `returnpath demo`: seed 001 alone, as its nlb-hairpin cell. An internal NLB with instance targets
 * and client IP preservation, a client pod inside the cluster: a share of its connections time out
 * (the NLB picked the client's own node) and the client pod sends the resets.
 */
import { EnvironmentError } from '../errors.js';
import { labUnavailable } from '../lab/environment.js';
import { runCell } from '../scenario/run-cell.js';
import { nlbHairpinSuite } from '../../suites/nlb-hairpin.cells.js';
import type { CommandDecl } from './command.js';

const CELL = 'seed001.instance.cluster.preserve-on';

export const demoDecl: CommandDecl = {
  name: 'demo',
  summary: 'seed 001 (NLB hairpin) alone, with its evidence, in a few seconds (as root)',
  run: () => demoCommand(),
};

export async function demoCommand(): Promise<number> {
  const why = labUnavailable();
  if (why) throw new EnvironmentError(`the built-in lab cannot run here: ${why}`);
  const cell = nlbHairpinSuite.cells.find((c) => c.id === CELL)!;
  console.log(`seed 001: ${cell.title}`);
  // A signal waits for the cell (a few seconds): its lab comes down before the process leaves.
  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
    console.log('interrupted: tearing the lab down');
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  const r = await runCell(cell).finally(() => process.off('SIGINT', onSignal).off('SIGTERM', onSignal));
  if (interrupted) return 130;
  console.log(`flow: ${r.flow}`);
  console.log(`expected: ${r.expectation}`);
  console.log(`seen: ${JSON.stringify(r.counts)} of ${r.attempts} attempts`);
  for (const c of r.checks) console.log(`${c.status}: ${c.name}: ${c.detail}`);
  for (const e of r.evidence) console.log(`evidence: ${e.summary}`);
  console.log(`mechanism: ${r.mechanism ? `${r.mechanism}: ` : ''}${r.explanation}`);
  console.log(
    'reproduce (this lab is down now: the second line brings the same lab back, then probe, look, remove):',
  );
  for (const line of r.reproduce) console.log(`  ${line}`);
  if (r.error) console.log(`error: ${r.error}`);
  console.log(`verdict: ${r.status}: ${r.reason}`);
  return r.status === 'pass' ? 0 : 1;
}
