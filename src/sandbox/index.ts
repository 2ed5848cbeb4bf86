export { createSandboxSpec, toOciRuntimeSpec, DEFAULT_CAPABILITIES, DEFAULT_PATH, type SandboxSpec, type SandboxMount, type SandboxUser, type SandboxInput } from './spec.js';
export { runSandbox, checkSandboxAvailable, cleanupStaleContainers, hostResolvConf, type SandboxIo, type SandboxResult, type SandboxOptions, type SandboxRuntime } from './runner.js';
export {
  startRootlessChild, checkUserNamespaces, hostUserNamespaceProbe, planIdMaps, unshareArgs, parseSubIdFile, parseIdMap, isUserNamespaced, runningInUserNamespace, readSubIds, ROOTLESS_ENV,
  type RootlessChild, type RootlessChildOptions, type IdMapPlan, type IdMapEntry, type SubIdRange, type UserNamespaceProbe,
} from './rootless.js';
