import { expect } from 'chai';
import { ValidationError } from '../errors.js';
import { parseCommandLine } from './command.js';
import { kubeProxyChoice, runDecl } from './run-command.js';

async function runCommand(argv: readonly string[]): Promise<number> {
  const p = parseCommandLine(runDecl, argv);
  if (p.help) throw new Error('help');
  return runDecl.run(p.args);
}

async function captured(fn: () => Promise<number>): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.join(' '));
  try {
    return { code: await fn(), out: lines.join('\n') };
  } finally {
    console.log = log;
  }
}

describe('returnpath run (arguments)', () => {
  it('--list prints the selected cells with tags and expectations, and runs nothing', async () => {
    const { code, out } = await captured(() =>
      runCommand([
        '--list',
        '--suite',
        'eni-rp-filter',
        '--grep',
        'vpc-cni-legacy\\.snat-cni\\.rp-1\\.sdc-on:',
      ]),
    );
    expect(code).to.equal(0);
    expect(out).to.contain(
      'eni-rp-filter/vpc-cni-legacy.snat-cni.rp-1.sdc-on  [Conformance] [Seed:000] [Slow]',
    );
    expect(out).to.contain('expects: all timeout; rp_filter drop on node-1');
    expect(out).to.match(/^1 cells$/m);
  });

  it('names what is wrong with an option', async () => {
    for (const [argv, re] of [
      [['--concurrency', '0'], /must be an integer from 1 to 16/],
      [['--suite', 'nope'], /is not a suite; suites: baseline, eni-rp-filter/],
      [['--grep', '('], /not a valid regular expression/],
      [['--colour'], /unknown option/],
      [['--cni', 'fake'], /--cni fake.*is not allowed; allowed: emulated, real/],
      [
        ['--cni-bin', '/nonexistent'],
        /--cni-bin \/nonexistent.*holds no VPC CNI build \(missing bin\/aws-cni/,
      ],
      [['--cni', 'emulated', '--cni-bin', '/x'], /runs a real build: drop --cni emulated/],
      [['--kube-proxy', 'ipvs'], /--kube-proxy ipvs: is not allowed; allowed: emulated, real/],
      [
        ['--kube-proxy', 'real', '--kube-proxy-mode', 'ipvs'],
        /--kube-proxy-mode ipvs: is not allowed; allowed: iptables, nftables/,
      ],
      [['--kube-proxy-mode', 'nftables'], /applies to the real kube-proxy only: add --kube-proxy real/],
    ] as const) {
      let err: unknown;
      try {
        await runCommand(argv);
      } catch (e) {
        err = e;
      }
      expect(err, argv.join(' ')).to.be.instanceOf(ValidationError);
      expect(String((err as Error).message) + JSON.stringify((err as ValidationError).problems)).to.match(re);
    }
  });

  it('--kube-proxy: the emulation by default; the real one in iptables mode unless asked', () => {
    expect(kubeProxyChoice(undefined, undefined)).to.deep.equal({
      implementation: 'emulated',
      mode: 'iptables',
    });
    expect(kubeProxyChoice('real', undefined)).to.deep.equal({ implementation: 'real', mode: 'iptables' });
    expect(kubeProxyChoice('real', 'nftables')).to.deep.equal({ implementation: 'real', mode: 'nftables' });
  });
});
