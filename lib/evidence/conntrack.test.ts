import { expect } from 'chai';
import {
  countConntrack,
  formatConntrackEntry,
  listConntrack,
  parseConntrack,
  parseShownCount,
} from './conntrack.js';
import { ValidationError } from '../errors.js';
import { readTestdata, ScriptedExec } from './test-helpers.js';

const sample = readTestdata('conntrack-L.txt');
const extended = readTestdata('conntrack-L-extended.txt');

describe('evidence/conntrack', () => {
  describe('parseConntrack (real `conntrack -L` samples)', () => {
    const entries = parseConntrack(sample);

    it('reads every line', () => {
      expect(entries).to.have.length(7);
      expect(entries.map((e) => e.proto).sort()).to.deep.equal([
        'icmp',
        'tcp',
        'tcp',
        'tcp',
        'tcp',
        'tcp',
        'udp',
      ]);
    });

    it('reads a DNATed TCP entry: state, both tuples, mark, ASSURED', () => {
      const e = entries.find((x) => x.original.dport === 8080 && x.original.sport === 55174);
      expect(e).to.deep.include({
        proto: 'tcp',
        protoNum: 6,
        timeout: 119,
        state: 'TIME_WAIT',
        original: { src: '10.98.0.1', dst: '10.98.0.2', sport: 55174, dport: 8080 },
        reply: { src: '10.98.0.2', dst: '10.98.0.1', sport: 80, dport: 55174 },
        mark: 128,
        use: 1,
        flags: ['ASSURED'],
        extra: {},
      });
    });

    it('reads UNREPLIED UDP (no state) and ICMP type/code/id', () => {
      const udp = entries.find((x) => x.proto === 'udp');
      expect(udp).to.deep.include({ protoNum: 17, flags: ['UNREPLIED'], mark: 0 });
      expect(udp).to.not.have.property('state');
      expect(udp?.reply).to.deep.equal({ src: '10.98.0.2', dst: '10.98.0.1', sport: 53, dport: 40941 });
      const icmp = entries.find((x) => x.proto === 'icmp');
      expect(icmp?.original).to.deep.equal({
        src: '10.98.0.1',
        dst: '10.98.0.2',
        type: 8,
        code: 0,
        id: 4660,
      });
      expect(icmp?.reply).to.deep.equal({ src: '10.98.0.2', dst: '10.98.0.1', type: 0, code: 0, id: 4660 });
    });

    it('reads a half-open SYN_RECV entry whose source cannot be routed back', () => {
      const e = entries.find((x) => x.state === 'SYN_RECV');
      expect(e?.original.src).to.equal('10.97.0.1');
      expect(e?.flags).to.deep.equal([]);
    });

    it('reads `-o extended` output (l3 columns first)', () => {
      const ext = parseConntrack(extended);
      expect(ext).to.have.length(3);
      expect(ext[0]).to.deep.include({ l3: 'ipv4', proto: 'udp', protoNum: 17, flags: ['UNREPLIED'] });
      expect(ext[2]).to.deep.include({ state: 'TIME_WAIT', mark: 128 });
    });

    it('keeps unknown fields in extra and tells a trailing id= from the ICMP id', () => {
      const [e] = parseConntrack(
        'icmp     1 29 src=1.1.1.1 dst=2.2.2.2 type=8 code=0 id=7 src=2.2.2.2 dst=1.1.1.1 type=0 code=0 id=7 mark=3 zone=5 secctx=x use=1 id=999\n',
      );
      expect(e?.reply.id).to.equal(7);
      expect(e).to.deep.include({ mark: 3, zone: 5, use: 1, extra: { secctx: 'x', id: '999' } });
    });

    it('reads empty output as no entries and rejects garbage', () => {
      expect(parseConntrack('')).to.deep.equal([]);
      expect(() => parseConntrack('tcp 6 x\n')).to.throw(ValidationError);
      expect(() => parseConntrack('tcp 6 10 ESTABLISHED src=1.1.1.1 dst=2.2.2.2\n')).to.throw(
        ValidationError,
        /reply tuple/,
      );
    });
  });

  it('parseShownCount reads the stderr summary', () => {
    expect(parseShownCount('conntrack v1.4.7 (conntrack-tools): 0 flow entries have been shown.\n')).to.equal(
      0,
    );
    expect(parseShownCount('')).to.equal(undefined);
  });

  it('formats an entry on one line', () => {
    const e = parseConntrack(sample).find((x) => x.mark === 128);
    expect(formatConntrackEntry(e!)).to.match(
      /^tcp TIME_WAIT 10\.98\.0\.1:\d+ -> 10\.98\.0\.2:8080 \| reply 10\.98\.0\.2:80 -> 10\.98\.0\.1:\d+ mark=0x80 \[ASSURED\]$/,
    );
  });

  it('listConntrack treats "0 flow entries" on stderr as an empty table; countConntrack reads -C', async () => {
    const exec = new ScriptedExec('h', {
      conntrack: (argv) =>
        argv[1] === '-C'
          ? { stdout: '3\n' }
          : { stdout: '', stderr: 'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been shown.\n' },
    });
    expect(await listConntrack(exec)).to.deep.equal([]);
    expect(await countConntrack(exec)).to.equal(3);
  });
});
