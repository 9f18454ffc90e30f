import { expect } from 'chai';
import { probeAnswer, probeClient, PROBE_REQUEST } from './probe-image.js';

describe('kind: probe image', () => {
  it('asks with nc and reads the body of a 200 answer only', () => {
    expect(probeClient('10.96.0.10', 80)).to.deep.equal([
      '/bin/busybox',
      'nc',
      '-w',
      '5',
      '10.96.0.10',
      '80',
    ]);
    expect(PROBE_REQUEST).to.equal('GET /cgi-bin/host HTTP/1.0\r\n\r\n');
    expect(probeAnswer('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\non-worker\n')).to.equal(
      'on-worker',
    );
    expect(probeAnswer('HTTP/1.1 404 Not Found\r\n\r\nnope')).to.equal(undefined);
    expect(probeAnswer('')).to.equal(undefined);
  });
});
