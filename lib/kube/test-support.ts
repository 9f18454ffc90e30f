/** Shared by tests that run real Kubernetes: skip only when root, a tool or a built component is truly absent. */
import { etcd, findBuilt, kubernetes } from '../components/index.js';
import { labUnavailable } from '../lab/environment.js';

/** Why real Kubernetes cannot run here, or undefined when it can. */
export async function kubeUnavailable(): Promise<string | undefined> {
  const lab = labUnavailable();
  if (lab) return lab;
  const missing = [];
  for (const c of [kubernetes, etcd]) if (!(await findBuilt(c))) missing.push(c.name);
  return missing.length ? `not built: run 'returnpath components build ${missing.join(' ')}'` : undefined;
}

/** In a mocha `before`: skips the suite with the reason when real Kubernetes cannot run. */
export async function requireKube(ctx: Mocha.Context): Promise<void> {
  const why = await kubeUnavailable();
  if (why) {
    console.log(`      skipped: ${why}`);
    ctx.skip();
  }
}
