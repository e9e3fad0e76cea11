import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Certificate {
  /** PEM. */
  cert: string;
  /** PEM, unencrypted. */
  key: string;
}

/**
 * A self-signed P-256 certificate for `127.0.0.1` and `localhost`, valid for a day, made by the
 * system's `openssl` (node:crypto cannot make certificates). For `KubeApiServer.start({ tls })`,
 * and as a client certificate.
 */
export function selfSignedCertificate(commonName = 'kube-api-server-test'): Certificate {
  const dir = mkdtempSync(join(tmpdir(), 'kube-api-server-cert-'));
  try {
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${commonName}`,
        '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    return { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
