export { type Digest, isDigest, sha256, digestHex, canonicalJson, digestOf } from './digest.js';
