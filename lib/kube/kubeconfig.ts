/** kubeconfig files for the lab control plane's users, self-contained (certificates embedded). */
import { readFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import type { Pki, PkiUser } from './pki.js';

export interface KubeconfigOptions {
  server: string;
  cluster?: string;
  user: PkiUser;
  /** Default namespace of the context. */
  namespace?: string;
}

const b64 = async (file: string): Promise<string> => (await readFile(file)).toString('base64');

export async function renderKubeconfig(pki: Pki, o: KubeconfigOptions): Promise<string> {
  const cluster = o.cluster ?? 'returnpath-lab';
  const creds = pki.client[o.user];
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: cluster, cluster: { server: o.server, 'certificate-authority-data': await b64(pki.caCert) } },
    ],
    users: [
      {
        name: o.user,
        user: {
          'client-certificate-data': await b64(creds.cert),
          'client-key-data': await b64(creds.key),
        },
      },
    ],
    contexts: [
      {
        name: `${o.user}@${cluster}`,
        context: { cluster, user: o.user, ...(o.namespace && { namespace: o.namespace }) },
      },
    ],
    'current-context': `${o.user}@${cluster}`,
  });
}
