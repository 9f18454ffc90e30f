/**
 * A small probe image built locally (nothing pulled): busybox-static, serving HTTP on 8080 with a
 * CGI that answers the pod's hostname (so a client knows which pod answered), and busybox's nc as
 * the client (Debian's static busybox wget crashes on start). Imported into the cluster's engine, saved, and loaded into every node's
 * containerd with kind's own `kind load image-archive`.
 */
import { chmod, copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeCommands } from '../engine/docker.js';
import { EnvironmentError } from '../errors.js';
import type { KindCluster } from './cluster.js';

export const PROBE_IMAGE = 'returnpath.local/probe:1';
export const PROBE_PORT = 8080;
/** The server's command: busybox httpd in the foreground. */
export const PROBE_SERVER = ['/bin/busybox', 'httpd', '-f', '-p', String(PROBE_PORT), '-h', '/www'];
/** The path that answers with the serving pod's hostname. */
export const PROBE_PATH = '/cgi-bin/host';

/** The client's command for one request to `address:port` (5 s deadline); the request goes on its stdin. */
export function probeClient(address: string, port = PROBE_PORT): string[] {
  return ['/bin/busybox', 'nc', '-w', '5', address, String(port)];
}

export const PROBE_REQUEST = `GET ${PROBE_PATH} HTTP/1.0\r\n\r\n`;

/** The body of the probe's HTTP answer (the serving pod's hostname), or undefined when it is not a 200. */
export function probeAnswer(raw: string): string | undefined {
  const [head, ...body] = raw.split(/\r?\n\r?\n/);
  return /^HTTP\/1\.[01] 200 /.test(head ?? '') ? body.join('\n\n').trim() : undefined;
}

export async function loadProbeImage(cluster: KindCluster, busybox = '/bin/busybox'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rp-probe-image-'));
  try {
    const root = join(dir, 'root');
    await mkdir(join(root, 'bin'), { recursive: true });
    await mkdir(join(root, 'www/cgi-bin'), { recursive: true });
    await mkdir(join(root, 'tmp'), { recursive: true });
    await chmod(join(root, 'tmp'), 0o1777);
    await copyFile(busybox, join(root, 'bin/busybox')).catch(() => {
      throw new EnvironmentError('the probe image needs busybox-static: apt-get install busybox-static');
    });
    await chmod(join(root, 'bin/busybox'), 0o755);
    await symlink('busybox', join(root, 'bin/sh'));
    await writeFile(join(root, 'www/index.html'), 'returnpath probe\n');
    await writeFile(
      join(root, 'www/cgi-bin/host'),
      "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\n/bin/busybox hostname\n",
    );
    await chmod(join(root, 'www/cgi-bin/host'), 0o755);
    await pipeCommands(
      ['tar', '--numeric-owner', '-C', root, '-c', 'bin', 'tmp', 'www'],
      cluster.docker.argv([
        'import',
        '--change',
        `ENTRYPOINT ${JSON.stringify(PROBE_SERVER)}`,
        '-',
        PROBE_IMAGE,
      ]),
    );
    const archive = join(dir, 'probe.tar');
    await cluster.docker.run(['save', '--output', archive, PROBE_IMAGE]);
    await cluster.loadImageArchive(archive);
    return PROBE_IMAGE;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
