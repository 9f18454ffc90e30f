/**
 * Connecting to a user's cluster: the kubeconfig (and context) loaded, the server reached, the
 * credentials accepted, and every permission the backend needs granted, before anything is
 * created. Each failure is input the user can fix: a ClusterInputError (exit 2) naming it.
 */
import { readFile } from 'node:fs/promises';
import { AuthorizationV1Api, KubeConfig, VersionApi } from '@kubernetes/client-node';
import { ValidationError } from '../errors.js';
import { apiErrorText, apiStatus } from '../kube/cluster-api.js';

/** Input the user can fix (exit 2): a kubeconfig, its credentials or permissions, a namespace. */
export class ClusterInputError extends ValidationError {
  constructor(message: string) {
    super('cluster', [{ path: 'kubeconfig', value: '', message }]);
    this.message = message;
  }
}

/** What `run --kubeconfig` does through the API, as RBAC rules (the README lists them). */
export const REQUIRED_PERMISSIONS: readonly {
  verb: string;
  resource: string;
  subresource?: string;
  group?: string;
  namespaced: boolean;
}[] = [
  { verb: 'list', resource: 'nodes', namespaced: false },
  { verb: 'create', resource: 'namespaces', namespaced: false },
  { verb: 'delete', resource: 'namespaces', namespaced: false },
  { verb: 'list', resource: 'namespaces', namespaced: false },
  { verb: 'create', resource: 'pods', namespaced: true },
  { verb: 'delete', resource: 'pods', namespaced: true },
  { verb: 'list', resource: 'pods', namespaced: true },
  { verb: 'create', resource: 'pods', subresource: 'exec', namespaced: true },
  { verb: 'get', resource: 'pods', subresource: 'log', namespaced: true },
  { verb: 'create', resource: 'services', namespaced: true },
  { verb: 'delete', resource: 'services', namespaced: true },
  { verb: 'list', resource: 'services', namespaced: true },
  { verb: 'list', resource: 'endpointslices', group: 'discovery.k8s.io', namespaced: true },
  { verb: 'list', resource: 'events', namespaced: true },
];

export interface ConnectOptions {
  kubeconfig: string;
  context?: string;
  /** The namespace the permissions are checked in. */
  namespace: string;
}

export async function loadKubeConfig(path: string, context?: string): Promise<KubeConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ClusterInputError(
      `--kubeconfig ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
    );
  }
  const kc = new KubeConfig();
  try {
    kc.loadFromString(text);
  } catch (e) {
    throw new ClusterInputError(
      `--kubeconfig ${path}: not a kubeconfig (${(e as Error).message.split('\n')[0]})`,
    );
  }
  if (context !== undefined) {
    const names = kc.getContexts().map((c) => c.name);
    if (!names.includes(context))
      throw new ClusterInputError(
        `--context ${context}: not in ${path} (its contexts: ${names.join(', ') || 'none'})`,
      );
    kc.setCurrentContext(context);
  }
  if (!kc.getCurrentCluster())
    throw new ClusterInputError(
      `--kubeconfig ${path}: no current context${context ? '' : ' (give --context)'}`,
    );
  return kc;
}

/** Reaches the server, checks the credentials and the permissions; returns the server's version. */
export async function preflight(kc: KubeConfig, o: ConnectOptions): Promise<string> {
  const server = kc.getCurrentCluster()!.server;
  let version: string;
  try {
    version = (await kc.makeApiClient(VersionApi).getCode()).gitVersion;
  } catch (e) {
    const status = apiStatus(e);
    if (status === 401)
      throw new ClusterInputError(
        `${server}: the credentials of --kubeconfig ${o.kubeconfig} were refused (401 Unauthorized)`,
      );
    if (status === undefined)
      throw new ClusterInputError(
        `${server} (from --kubeconfig ${o.kubeconfig}) cannot be reached: ${apiErrorText(e)}`,
      );
    if (status !== 403) throw new ClusterInputError(`${server}: ${apiErrorText(e)}`);
    version = 'unknown';
  }
  const authz = kc.makeApiClient(AuthorizationV1Api);
  const missing: string[] = [];
  await Promise.all(
    REQUIRED_PERMISSIONS.map(async (p) => {
      let review;
      try {
        review = await authz.createSelfSubjectAccessReview({
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SelfSubjectAccessReview',
            spec: {
              resourceAttributes: {
                verb: p.verb,
                resource: p.resource,
                ...(p.subresource && { subresource: p.subresource }),
                ...(p.group && { group: p.group }),
                ...(p.namespaced && { namespace: o.namespace }),
              },
            },
          },
        });
      } catch (e) {
        if (apiStatus(e) === 401)
          throw new ClusterInputError(
            `${server}: the credentials of --kubeconfig ${o.kubeconfig} were refused (401 Unauthorized)`,
          );
        throw e;
      }
      if (!review.status?.allowed) missing.push(describePermission(p));
    }),
  );
  if (missing.length)
    throw new ClusterInputError(
      `${server}: the kubeconfig's user lacks ${missing.length} permission(s) returnpath needs: ${missing.sort().join('; ')}`,
    );
  return version;
}

function describePermission(p: (typeof REQUIRED_PERMISSIONS)[number]): string {
  const what = `${p.group ? `${p.group}/` : ''}${p.resource}${p.subresource ? `/${p.subresource}` : ''}`;
  return `${p.verb} ${what}${p.namespaced ? '' : ' (cluster-wide)'}`;
}
