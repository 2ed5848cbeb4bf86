export { createRegistryClient, type RegistryClient, type RegistryClientOptions, type RepositoryRef } from './client.js';
export { createDockerCredentialStore, parseChallenge, type CredentialStore, type Credentials } from './auth.js';
export { resolveRemoteImage, fetchManifest, fetchBlob, pullImage, MANIFEST_ACCEPT, type RemoteImage } from './pull.js';
export { pushBlob, pushImage, pushToNames, putManifest, blobExists, type PushOptions, type PushStats, type PushTarget } from './push.js';
export { normalizePlatform, selectPlatform, formatPlatform } from './platform.js';
export { createBlobSources, type BlobSources } from './sources.js';
export { pullReference, type PulledReference } from './pull-reference.js';
