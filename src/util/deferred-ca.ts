/**
 * NODE_EXTRA_CA_CERTS, read on first use. The `tsbuild` launcher (bin/tsbuild) moves the variable
 * to TSBUILD_EXTRA_CA_CERTS so that Node does not parse the certificate file at start-up (~40 ms
 * for a system bundle, on every run, though most builds make no TLS connection). The HTTPS
 * requests tsbuild makes (http-transport.ts: registries, ADD <url>) then trust Node's built-in
 * roots plus those certificates, which is what the Node variable means.
 */
import { readFileSync } from 'node:fs';
import type { SecureContext } from 'node:tls';

let loaded: Promise<SecureContext | undefined> | undefined;

/**
 * The TLS context for HTTPS requests: undefined (Node's default roots) unless
 * TSBUILD_EXTRA_CA_CERTS names certificates. Made once (parsing the roots for every connection
 * would cost each one milliseconds); node:tls loads only here, when TLS is about to be used.
 */
export function caContext(env: NodeJS.ProcessEnv = process.env): Promise<SecureContext | undefined> {
  return (loaded ??= (async () => {
    const file = env.TSBUILD_EXTRA_CA_CERTS;
    if (!file) return undefined;
    let pem: string;
    try {
      pem = readFileSync(file, 'utf8');
    } catch (err) {
      // Node's own wording for an unreadable NODE_EXTRA_CA_CERTS: a warning, and the default roots.
      process.emitWarning(`Ignoring extra certs from \`${file}\`, load failed: ${(err as Error).message}`);
      return undefined;
    }
    const extra = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (extra.length === 0) return undefined;
    const tls = (await import('node:tls')).default;
    return tls.createSecureContext({ ca: [...tls.rootCertificates, ...extra] });
  })());
}
