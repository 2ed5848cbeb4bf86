/** Throwaway certificates: a test CA and a server certificate it signs for one IP address. */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

export interface TestCerts {
  /** The CA certificate (PEM file). */
  ca: string;
  /** The server's key and certificate (PEM files). */
  key: string;
  cert: string;
}

export function makeCerts(dir: string, ip = '127.0.0.1'): TestCerts {
  const f = (n: string) => path.join(dir, n);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=tsbuild test CA', '-keyout', f('ca.key'), '-out', f('ca.pem'));
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${ip}`, '-keyout', f('server.key'), '-out', f('server.csr'));
  writeFileSync(f('ext'), `subjectAltName=IP:${ip}\n`);
  ssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f('ext'), '-out', f('server.pem'));
  return { ca: f('ca.pem'), key: f('server.key'), cert: f('server.pem') };
}
