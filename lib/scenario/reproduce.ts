/**
 * The lines that reproduce a cell, as printed in its result: re-run it; bring its lab up again
 * (same run id, so the namespaces have the same names) with its servers, NLB agents and health
 * checks running until `lab down`; probe the flow once more; dump the state; take it down. They
 * name no path of this machine (no node binary, no checkout): they work as printed wherever
 * returnpath is installed, and a suite file is named as the user named it.
 */
import { shellQuote } from '../exec/command.js';
import type { ProxyMode } from '../kube-proxy/config.js';
import { attemptsOf, escapeRegExp, type CellSpec } from './cell.js';
import type { ResolvedFlow } from './flow.js';

/** Where a cell is defined: a built-in suite, or a suite file (as the user named it). */
export type CellSource = { kind: 'builtin' } | { kind: 'file'; path: string };

export function cellRef(cell: Pick<CellSpec, 'suite' | 'id'>): string {
  return `${cell.suite}/${cell.id}`;
}

/** How the cell ran, when not on the default emulation: repeated by `run` and `lab up --cell`. */
export interface ReproduceFlags {
  /** The VPC CNI's implementation: `['--cni', 'real']` or `['--cni-bin', DIR]`. */
  cni?: readonly string[];
  /** On real Kubernetes, with the real kube-proxy in this mode. */
  kubeProxyMode?: ProxyMode;
  /** On a cluster: `['--kubeconfig', FILE, '--context', C]`. */
  cluster?: readonly string[];
}

const nftables = (f: ReproduceFlags): string[] =>
  f.kubeProxyMode === 'nftables' ? ['--kube-proxy-mode', 'nftables'] : [];

/** `--file F ` for a suite file, nothing for a built-in suite. */
function fileArg(source: CellSource): string[] {
  return source.kind === 'file' ? ['--file', source.path] : [];
}

/** `returnpath run --suite S --grep 'ID:'` */
export function runLine(
  cell: Pick<CellSpec, 'suite' | 'id'>,
  source: CellSource,
  flags: ReproduceFlags = {},
): string {
  return shellQuote([
    'returnpath',
    'run',
    ...fileArg(source),
    '--suite',
    cell.suite,
    '--grep',
    `${escapeRegExp(cell.id)}:`,
    ...(flags.cni ?? []),
    ...(flags.kubeProxyMode ? ['--kube-proxy', 'real', ...nftables(flags)] : []),
    ...(flags.cluster ?? []),
  ]);
}

/** `returnpath lab up --cell S/ID --run-id RUN` */
export function labUpLine(
  cell: Pick<CellSpec, 'suite' | 'id'>,
  runId: string,
  source: CellSource,
  flags: ReproduceFlags = {},
): string {
  return shellQuote([
    'returnpath',
    'lab',
    'up',
    ...fileArg(source),
    '--cell',
    cellRef(cell),
    '--run-id',
    runId,
    ...(flags.cni ?? []),
    ...(flags.kubeProxyMode ? ['--kubernetes', ...nftables(flags)] : []),
  ]);
}

/** The argv after `returnpath lab probe RUN`: host, kind, addresses, port and the probe's options. */
export function probeArgs(cell: CellSpec, flow: ResolvedFlow): string[] {
  const chaos = cell.chaos?.batch;
  const per = chaos
    ? (chaos.attempts ?? 4)
    : Math.max(1, Math.ceil(attemptsOf(cell.flow) / flow.destinations.length));
  const args = [
    flow.client,
    cell.flow.kind ?? 'tcp',
    flow.destinations.map((d) => d.address).join(','),
    String(flow.destinations[0]!.port),
    '--deadline',
    String(chaos?.deadlineMs ?? cell.flow.deadlineMs ?? 250),
    '--attempts',
    String(per),
  ];
  const concurrency = chaos ? per : cell.flow.concurrency;
  if (concurrency !== undefined) args.push('--concurrency', String(concurrency));
  if (cell.flow.localPortRange) args.push('--local-ports', cell.flow.localPortRange.join('-'));
  if (cell.flow.holdMs) args.push('--hold', String(cell.flow.holdMs), '--close', 'rst');
  return args;
}

/** `returnpath lab probe RUN HOST KIND ADDR[,ADDR] PORT --deadline MS --attempts N ...` */
export function probeLine(cell: CellSpec, flow: ResolvedFlow, runId: string): string {
  return shellQuote(['returnpath', 'lab', 'probe', runId, ...probeArgs(cell, flow)]);
}

/** Every line, in the order to run them. */
export function reproduceLines(
  cell: CellSpec,
  flow: ResolvedFlow,
  runId: string,
  source: CellSource,
  flags: ReproduceFlags = {},
): string[] {
  return [
    runLine(cell, source, flags),
    labUpLine(cell, runId, source, flags),
    probeLine(cell, flow, runId),
    `returnpath lab dump ${runId}`,
    `returnpath lab down ${runId}`,
  ];
}
