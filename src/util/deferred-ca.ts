/**
 * NODE_EXTRA_CA_CERTS, applied on first use. The `tsbuild` launcher (bin/tsbuild) moves the
 * variable to TSBUILD_EXTRA_CA_CERTS so that Node does not parse the certificate file at start-up
 * (~40 ms for a system bundle, on every run, though most builds make no TLS connection). Before
 * the first TLS connection, this adds those certificates to the ones trusted by default, with
 * the same meaning the Node variable has: they extend the built-in roots for every connection
 * that does not bring its own `ca`. That covers node:https and the global fetch alike, because
 * both make their contexts through tls.createSecureContext (Node 20 has no public hook for the
 * default CA set of fetch).
 */
import { readFileSync } from 'node:fs';

let done = false;

/**
 * Idempotent and cheap when the variable is unset; await it before any request that may use TLS.
 * node:tls loads here, not at start-up (~2 ms a build without TLS does not need).
 */
export async function applyDeferredCaCerts(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (done) return;
  done = true;
  const file = env.TSBUILD_EXTRA_CA_CERTS;
  if (!file) return;
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    // Node's own wording for an unreadable NODE_EXTRA_CA_CERTS: a warning, and the default roots.
    process.emitWarning(`Ignoring extra certs from \`${file}\`, load failed: ${(err as Error).message}`);
    return;
  }
  const extra = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (extra.length === 0) return;
  const tls = (await import('node:tls')).default;
  const ca = [...tls.rootCertificates, ...extra];
  const create = tls.createSecureContext;
  tls.createSecureContext = (options) => create(options?.ca === undefined ? { ...options, ca } : options);
}
