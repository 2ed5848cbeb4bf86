export { createSandboxSpec, toOciRuntimeSpec, DEFAULT_CAPABILITIES, DEFAULT_PATH, type SandboxSpec, type SandboxMount, type SandboxUser, type SandboxInput } from './spec.js';
export { runSandbox, checkSandboxAvailable, cleanupStaleContainers, hostResolvConf, type SandboxIo, type SandboxResult } from './runner.js';
