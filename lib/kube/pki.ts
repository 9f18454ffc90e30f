/**
 * The PKI of a lab control plane, generated with `openssl` (argv, never a shell): one CA, the
 * apiserver's serving certificate (for every address the run uses), the service-account key pair,
 * and client certificates for the users the control plane knows through RBAC's defaults:
 * `admin` (group system:masters: returnpath itself and kubectl), `system:kube-controller-manager`
 * and `system:kube-proxy` (bound to system:node-proxier by the default ClusterRoleBindings), and
 * `kube-apiserver-kubelet-client` (the apiserver's client certificate towards kubelets, as kubeadm
 * names it). With `kubeletIps`: a serving certificate for the lab kubelet (serve mode's exec).
 * EC P-256 keys: generating them takes milliseconds. Valid for 7 days: a lab is short-lived.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CommandError, EnvironmentError } from '../errors.js';
import type { CommandRunner } from '../exec/command.js';

export type PkiUser = 'admin' | 'kube-controller-manager' | 'kube-proxy' | 'apiserver-kubelet-client';

/** Subject of each client certificate: CN is the user name, O the groups. */
export const CLIENT_SUBJECTS: Readonly<Record<PkiUser, { cn: string; o?: string }>> = {
  admin: { cn: 'returnpath-admin', o: 'system:masters' },
  'kube-controller-manager': { cn: 'system:kube-controller-manager' },
  'kube-proxy': { cn: 'system:kube-proxy' },
  'apiserver-kubelet-client': { cn: 'kube-apiserver-kubelet-client', o: 'system:masters' },
};

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  /** The lab kubelet's serving certificate (for `kubeletIps`). */
  kubeletCert: string;
  kubeletKey: string;
  /** Service-account token signing key (controller-manager, apiserver --service-account-signing-key-file). */
  saKey: string;
  saPub: string;
  client: Record<PkiUser, { cert: string; key: string }>;
}

export interface PkiOptions {
  /** IP SANs of the serving certificate (every address a client dials, relays included). */
  ips: readonly string[];
  /** DNS SANs (`kubernetes`, `kubernetes.default`, ... are always added). */
  dnsNames?: readonly string[];
  /** IP SANs of the lab kubelet's serving certificate (where the apiserver dials it). */
  kubeletIps?: readonly string[];
  days?: number;
}

const DEFAULT_DNS = ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'localhost'];

/** The `-subj` argument for a subject. */
export function subjectArg(s: { cn: string; o?: string }): string {
  return `${s.o ? `/O=${s.o}` : ''}/CN=${s.cn}`;
}

/** `subjectAltName` value: IPs and DNS names, deduplicated, in a stable order. */
export function subjectAltName(ips: readonly string[], dns: readonly string[]): string {
  return [...new Set(dns)]
    .map((d) => `DNS:${d}`)
    .concat([...new Set(ips)].map((i) => `IP:${i}`))
    .join(',');
}

export async function generatePki(runner: CommandRunner, dir: string, opts: PkiOptions): Promise<Pki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const days = String(opts.days ?? 7);
  const f = (name: string): string => join(dir, name);
  const openssl = async (args: string[]): Promise<void> => {
    try {
      await runner.run(['openssl', ...args]);
    } catch (e) {
      if (e instanceof CommandError && e.code === null)
        throw new EnvironmentError(
          "openssl is needed to generate the lab control plane's certificates: apt-get install openssl",
        );
      throw e;
    }
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

  await openssl([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
    '-days',
    days,
    '-subj',
    '/CN=returnpath-lab-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
  ]);

  const leaf = async (name: string, subject: string, extensions: string[]): Promise<void> => {
    await openssl([
      'req',
      '-new',
      ...ec,
      '-keyout',
      f(`${name}.key`),
      '-out',
      f(`${name}.csr`),
      '-subj',
      subject,
      ...extensions.flatMap((x) => ['-addext', x]),
    ]);
    await openssl([
      'x509',
      '-req',
      '-in',
      f(`${name}.csr`),
      '-CA',
      f('ca.crt'),
      '-CAkey',
      f('ca.key'),
      '-set_serial',
      `0x${randomBytes(12).toString('hex')}`,
      '-copy_extensions',
      'copyall',
      '-days',
      days,
      '-out',
      f(`${name}.crt`),
    ]);
  };

  const san = subjectAltName(opts.ips, [...DEFAULT_DNS, ...(opts.dnsNames ?? [])]);
  const jobs: Promise<void>[] = [
    leaf('apiserver', '/CN=kube-apiserver', [
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      `subjectAltName=${san}`,
    ]),
  ];
  jobs.push(
    leaf('kubelet', '/CN=returnpath-lab-kubelet', [
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      `subjectAltName=${subjectAltName(opts.kubeletIps ?? ['127.0.0.1'], ['localhost'])}`,
    ]),
  );
  for (const [user, subject] of Object.entries(CLIENT_SUBJECTS))
    jobs.push(
      leaf(user, subjectArg(subject), [
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage=clientAuth',
      ]),
    );
  await Promise.all(jobs);

  const sa = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  await writeFile(f('sa.key'), sa.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  await writeFile(f('sa.pub'), sa.publicKey.export({ type: 'spki', format: 'pem' }));

  const client = Object.fromEntries(
    (Object.keys(CLIENT_SUBJECTS) as PkiUser[]).map((u) => [u, { cert: f(`${u}.crt`), key: f(`${u}.key`) }]),
  ) as Pki['client'];
  return {
    dir,
    caCert: f('ca.crt'),
    caKey: f('ca.key'),
    serverCert: f('apiserver.crt'),
    serverKey: f('apiserver.key'),
    kubeletCert: f('kubelet.crt'),
    kubeletKey: f('kubelet.key'),
    saKey: f('sa.key'),
    saPub: f('sa.pub'),
    client,
  };
}
