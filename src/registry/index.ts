export { createRegistryClient, type RegistryClient, type RegistryClientOptions, type RepositoryRef } from './client.js';
export { createDockerCredentialStore, parseChallenge, type CredentialStore, type Credentials } from './auth.js';
export { resolveRemoteImage, fetchManifest, fetchBlob, pullImage, MANIFEST_ACCEPT, type RemoteImage } from './pull.js';
export { pushBlob, pushImage, putManifest, blobExists, type PushOptions, type PushStats } from './push.js';
