export type { BuildContext, Component, ComponentManifest } from './component.js';
export { COMPONENTS, componentNamed, cniPlugins, etcd, kubernetes, vpcCni, vpcCniLegacy } from './catalog.js';
export {
  buildComponent,
  cacheRoot,
  cleanComponents,
  findBuilt,
  requireBuilt,
  type BuildReport,
  type BuiltComponent,
} from './store.js';
export { VERSIONS } from './versions.js';
