/** The CNI protocol: conflists, plugin calls and a runtime with libcni's semantics. */
export {
  CNI_VERSIONS,
  ConflistSchema,
  parseConflist,
  parseConflistText,
  supportsCheck,
  type CniVersion,
  type Conflist,
  type PluginConf,
} from '../../model/conflist.js';
export {
  CniError,
  findPlugin,
  invokePlugin,
  renderCniArgs,
  type CniCommand,
  type CniErrorBody,
  type InvokeOptions,
  type PluginInvocation,
} from './invoke.js';
export {
  buildPluginConf,
  CniRuntime,
  PluginNotFoundError,
  type CachedResult,
  type CniRuntimeOptions,
  type RuntimeConf,
} from './runtime.js';
