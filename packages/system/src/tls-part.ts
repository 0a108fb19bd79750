/**
 * The system's TLS certificate: `ensureLocalCa` once for `<dataDir>/tls` (or a temporary directory
 * removed at close, without a data directory), its PEM pair handed to every TLS port — the
 * Notification Hubs front and the AMQP front's AMQPS port — so clients trust one `ca.pem`
 * (`NODE_EXTRA_CA_CERTS`). The server certificate is renewed at a start within 30 days of its end.
 * @module
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureLocalCa } from '@hubbub/tls';

export interface SystemTls {
  /** The server certificate and key (PEM), for `node:tls`. */
  readonly certPem: string;
  readonly keyPem: string;
  /** `ca.pem`: what clients trust. */
  readonly caPath: string;
  /** Removes the temporary directory (nothing with a data directory). */
  close(): Promise<void>;
}

/** `hosts`: names and addresses the server certificate covers besides the loopback ones. */
export async function openSystemTls(dataDir: string | undefined, hosts: readonly string[] = []): Promise<SystemTls> {
  const tempDir = dataDir === undefined ? await mkdtemp(join(tmpdir(), 'hubbub-tls-')) : undefined;
  const remove = async () => {
    if (tempDir !== undefined) await rm(tempDir, { recursive: true, force: true });
  };
  try {
    const ca = await ensureLocalCa({ dir: tempDir ?? join(dataDir ?? '', 'tls'), hosts });
    return { certPem: ca.certPem, keyPem: ca.keyPem, caPath: ca.caPath, close: remove };
  } catch (err) {
    await remove();
    throw err;
  }
}
