import { expect } from 'chai';
import { captureArgv, parseCaptureStats } from './capture.js';

describe('evidence/capture', () => {
  it('builds a tcpdump argv that writes packets immediately and keeps the filter tokens', () => {
    expect(captureArgv({ file: '/tmp/x.pcap', filter: ['tcp', 'port', '80'] })).to.deep.equal([
      'tcpdump',
      '-Z',
      'root',
      '-i',
      'any',
      '-nn',
      '-U',
      '--immediate-mode',
      '-w',
      '/tmp/x.pcap',
      'tcp',
      'port',
      '80',
    ]);
    expect(captureArgv({ file: 'f', iface: 'eth0' }).slice(3, 5)).to.deep.equal(['-i', 'eth0']);
  });

  it('parses the statistics tcpdump prints when it stops (real stderr)', () => {
    const stderr =
      'tcpdump: data link type LINUX_SLL2\n' +
      'tcpdump: listening on any, link-type LINUX_SLL2 (Linux cooked v2), snapshot length 262144 bytes\n' +
      '2 packets captured\n2 packets received by filter\n0 packets dropped by kernel\n';
    expect(parseCaptureStats(stderr)).to.deep.equal({ packets: 2, receivedByFilter: 2, droppedByKernel: 0 });
    expect(parseCaptureStats('1 packet captured\n')).to.deep.equal({ packets: 1 });
    expect(parseCaptureStats('')).to.deep.equal({});
  });
});
