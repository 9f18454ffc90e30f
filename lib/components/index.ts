export type { BuildContext, Component, ComponentManifest } from './component.js';
export {
  COMPONENTS,
  KIND_COMPONENTS,
  componentNamed,
  componentsNamed,
  cniPlugins,
  coredns,
  dockerCli,
  engine,
  etcd,
  kind,
  kindBase,
  kindKubernetes,
  kindNode,
  kubernetes,
  kubernetesComponent,
  pause,
  runc,
  vpcCni,
  vpcCniLegacy,
} from './catalog.js';
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
