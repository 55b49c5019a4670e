import { X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { parseEnv } from '../src/config.js';
import { ServiceRuntime } from '../src/service.js';
import { makePki } from './support/certs.js';
import { configServiceEnv } from './support/env.js';

/** The serial of the certificate a new TLS connection to `port` is shown. */
function servedSerial(port: number, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername: 'localhost', ca }, () => {
      const serial = s.getPeerX509Certificate()!.serialNumber;
      s.end();
      resolve(serial);
    });
    s.once('error', reject);
  });
}

describe('HTTPS certificate rotation', () => {
  it('new connections get a renewed certificate without a restart; a key that does not match is ignored', async () => {
    const pki = makePki();
    const renewed = makePki();
    // The served files, renewed in place as cert-manager does; the "renewal" is signed by another CA, so the client trusts both.
    const cert = join(pki.dir, 'served.crt');
    const key = join(pki.dir, 'served.key');
    copyFileSync(pki.serverCert, cert);
    copyFileSync(pki.serverKey, key);
    const runtime = new ServiceRuntime({
      service: 'config',
      env: parseEnv(
        'config',
        configServiceEnv({ PRISM_TLS_ENABLED: 'true', PRISM_TLS_CERT_FILE: cert, PRISM_TLS_KEY_FILE: key }),
      ),
      handleSignals: false,
      mtlsRefreshMs: 100,
    });
    const server = runtime.createHttpServer((_req, res) => res.end('ok'));
    const port = await runtime.listen(server, 0, '127.0.0.1');
    const ca = Buffer.concat([readFileSync(pki.caCert), readFileSync(renewed.caCert)]);
    const serial = (f: string) => new X509Certificate(readFileSync(f)).serialNumber;
    try {
      expect(await servedSerial(port, ca)).toBe(serial(pki.serverCert));
      // Half a renewal: the new certificate with the old key is not used.
      copyFileSync(renewed.serverCert, cert);
      await new Promise((r) => setTimeout(r, 400));
      expect(await servedSerial(port, ca)).toBe(serial(pki.serverCert));
      writeFileSync(key, readFileSync(renewed.serverKey));
      await expect.poll(() => servedSerial(port, ca), { timeout: 5_000 }).toBe(serial(renewed.serverCert));
    } finally {
      await runtime.shutdown();
    }
  });
});
