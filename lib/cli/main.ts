/**
 * returnpath CLI. Exit codes: 0 success; 1 a run had failing (or, with --baseline, regressed)
 * cells, or a certificate is not granted; 2 bad input (usage, spec, snapshot); 3 the machine
 * lacks something (root, a tool, a kernel feature); 4 a named run or host does not exist;
 * 130 interrupted.
 */
import { CommandError, EnvironmentError, NotFoundError, ValidationError } from '../errors.js';
import { certifyCommand, collectCommand } from './certify-commands.js';
import { componentsCommand } from './components-command.js';
import { demoCommand } from './demo-command.js';
import { labCommand } from './lab-commands.js';
import { runCommand } from './run-command.js';
import { validateCommand } from './validate-command.js';

const HELP = `returnpath: chaos and conformance for the return paths of load-balanced traffic

usage:
  returnpath run [--suite ID[,ID]] [--grep RE] [--list] [--baseline OLD/results.json] [--concurrency N]
                 [--cni emulated|real] [--cni-bin DIR]
                                        run the conformance suites on the built-in lab; results in
                                        test-results/RUN-ID/ (results.json, junit.xml, report.html);
                                        --cni real: VPC CNI cells with the real plugin (--cni-bin: yours)
  returnpath collect [--out FILE]       (on a node, as root) snapshot its network settings for certify
  returnpath certify SNAPSHOT [--cni vpc-cni|vpc-cni-legacy] [--profile all|nlb-ip-targets|
                     nlb-instance-targets|in-cluster-clients]
                                        replay a node image's sysctls in the lab, certify its traffic paths
  returnpath demo                       reproduce seed 001 (NLB hairpin) on the built-in lab
  returnpath components build [NAME ...] [--force] | list | clean [--all]
                                        build the real components (Kubernetes, etcd, the AWS VPC CNI)
                                        from the Go module proxy into the per-user cache, once
  returnpath components build vpc-cni --source CHECKOUT --out DIR
                                        build the VPC CNI from your checkout (for run --cni-bin DIR)
  returnpath validate FILE              check a topology spec
  returnpath lab up FILE [--run-id ID]  build the topology in network namespaces and leave it up
  returnpath lab exec RUN HOST -- CMD   run a command inside a host of a lab
  returnpath lab dump RUN [HOST]        addresses, rules, routes, iptables, conntrack, sysctls
  returnpath lab down RUN               remove a lab
  returnpath lab list                   list lab runs on this machine
  returnpath lab clean [--all]          sweep what interrupted runs left (--all: also labs left up)

exit codes: 0 ok, 1 failing cells / regression / certificate refused, 2 bad input,
            3 environment lacks something, 4 run or host not found, 130 interrupted
`;

export async function main(argv: readonly string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'run':
      return runCommand(rest);
    case 'lab':
      return labCommand(rest);
    case 'collect':
      return collectCommand(rest);
    case 'certify':
      return certifyCommand(rest);
    case 'validate':
      return validateCommand(rest);
    case 'demo':
      return demoCommand();
    case 'components':
      return componentsCommand(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return cmd === undefined ? 2 : 0;
    default:
      process.stderr.write(`returnpath: unknown command "${cmd}"\n\n${HELP}`);
      return 2;
  }
}

export function exitCodeFor(e: unknown): number {
  if (e instanceof ValidationError) return 2;
  if (e instanceof EnvironmentError) return 3;
  if (e instanceof NotFoundError) return 4;
  if (e instanceof CommandError && /Operation not permitted|must be root|Permission denied/i.test(e.stderr))
    return 3;
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`returnpath: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(exitCodeFor(e));
  },
);
