/**
 * A local certificate authority for Hubbub's TLS ports (the Notification Hubs front, the AMQP
 * front): on first start it generates a CA key and self-signed CA certificate and a server
 * certificate for `127.0.0.1`, `::1`, `localhost` and the configured names, signed by that CA,
 * into one directory; later starts reuse them, and the server certificate is renewed before it
 * expires (or when it no longer names every configured host). Clients trust the CA through
 * `NODE_EXTRA_CA_CERTS=<dir>/ca.pem`. ECDSA P-256 keys, made with WebCrypto and written as PKCS #8;
 * the X.509 encoding is `@peculiar/x509`'s. Private keys are written with mode 0600, every file
 * by write-then-rename, and one process at a time changes the directory (a lock directory).
 * @module
 */
import { webcrypto } from 'node:crypto';
import { mkdir, readFile, rename, rmdir, stat, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { type Clock, InvalidOptionError, systemClock } from '@hubbub/kernel';
import { TlsError } from './errors.ts';

export interface LocalCaOptions {
  /** Directory holding `ca.pem`, `ca-key.pem`, `server.pem`, `server-key.pem`; created if missing. Required. */
  dir: string;
  /** Names and addresses the server certificate covers besides `127.0.0.1`, `::1` and `localhost`. @default [] */
  hosts?: readonly string[];
  /** Lifetime of a new CA certificate, in days. @default 3650 */
  caValidityDays?: number;
  /** Lifetime of a new server certificate, in days. @default 365 */
  serverValidityDays?: number;
  /** The server certificate is renewed when it has fewer days than this left. @default 30 */
  renewBeforeDays?: number;
  /** Reads the time certificates are dated and checked with. @default systemClock */
  clock?: Clock;
}

/** What {@link ensureLocalCa} leaves in the directory, read back. */
export interface LocalCa {
  readonly dir: string;
  /** `<dir>/ca.pem`: what clients trust (`NODE_EXTRA_CA_CERTS`). */
  readonly caPath: string;
  readonly caPem: string;
  /** The server certificate (PEM) and its private key (PKCS #8 PEM), for `tls.createSecureContext`. */
  readonly certPem: string;
  readonly keyPem: string;
  /** When the server certificate expires (ms since the epoch). */
  readonly serverNotAfter: number;
  /** When the server certificate should be renewed: {@link ensureLocalCa} renews it from then on. */
  readonly renewAt: number;
  /** What this call did: reused both, made a new server certificate, or made a new CA (and server certificate). */
  readonly action: 'reused' | 'renewed-server' | 'created-ca';
}

const defaultHosts = ['127.0.0.1', '::1', 'localhost'];
const day = 86_400_000;
const lockStaleMs = 30_000;
const lockWaitMs = 15_000;

/** Creates or reuses the CA and server certificate in `options.dir`; renews what is due. */
export async function ensureLocalCa(options: LocalCaOptions): Promise<LocalCa> {
  const o = resolve(options);
  const x509 = await loadX509();
  try {
    await mkdir(o.dir, { recursive: true, mode: 0o700 });
    const release = await lock(o.dir);
    try {
      return await ensureLocked(o, x509);
    } finally {
      await release();
    }
  } catch (cause) {
    if (cause instanceof TlsError) throw cause;
    throw new TlsError('TLS_UNAVAILABLE', `The local CA directory ${o.dir} is not usable.`, {
      cause,
      detail: { path: o.dir },
    });
  }
}

type Resolved = Required<Omit<LocalCaOptions, 'hosts'>> & { hosts: string[] };
type X509 = typeof import('@peculiar/x509');

function resolve(options: LocalCaOptions): Resolved {
  if (typeof options?.dir !== 'string' || options.dir === '') throw new InvalidOptionError('dir', 'is required');
  const hosts = [...new Set([...defaultHosts, ...(options.hosts ?? [])])];
  for (const host of hosts) {
    if (
      typeof host !== 'string' ||
      !(isIP(host) !== 0 || /^(?=.{1,253}$)[A-Za-z0-9*]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host))
    )
      throw new InvalidOptionError('hosts', `'${String(host).slice(0, 64)}' is neither an IP address nor a DNS name`);
  }
  const r: Resolved = {
    dir: options.dir,
    hosts,
    caValidityDays: options.caValidityDays ?? 3650,
    serverValidityDays: options.serverValidityDays ?? 365,
    renewBeforeDays: options.renewBeforeDays ?? 30,
    clock: options.clock ?? systemClock,
  };
  for (const name of ['caValidityDays', 'serverValidityDays', 'renewBeforeDays'] as const) {
    if (!Number.isInteger(r[name]) || r[name] < 1) throw new InvalidOptionError(name, 'must be a positive integer');
  }
  if (r.renewBeforeDays >= r.serverValidityDays)
    throw new InvalidOptionError('renewBeforeDays', 'must be less than serverValidityDays');
  return r;
}

let x509Module: Promise<X509> | undefined;

/** `@peculiar/x509` needs the Reflect metadata polyfill loaded first; loaded once, on first use. */
function loadX509(): Promise<X509> {
  x509Module ??= import('reflect-metadata').then(() => import('@peculiar/x509'));
  return x509Module;
}

const ecdsa = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

async function ensureLocked(o: Resolved, x509: X509): Promise<LocalCa> {
  const paths = filesOf(o.dir);
  const now = o.clock.now();
  let ca = await readCa(paths, x509, now);
  let action: LocalCa['action'] = 'reused';
  if (ca === undefined) {
    ca = await createCa(o, x509, now);
    await writeFileAtomic(paths.caKey, ca.keyPem, 0o600);
    await writeFileAtomic(paths.ca, ca.pem, 0o644);
    action = 'created-ca';
  }
  let server = action === 'reused' ? await readServer(paths, x509, ca, o, now) : undefined;
  if (server === undefined) {
    server = await createServer(o, x509, ca, now);
    await writeFileAtomic(paths.serverKey, server.keyPem, 0o600);
    await writeFileAtomic(paths.server, server.pem, 0o644);
    if (action === 'reused') action = 'renewed-server';
  }
  return {
    dir: o.dir,
    caPath: paths.ca,
    caPem: ca.pem,
    certPem: server.pem,
    keyPem: server.keyPem,
    serverNotAfter: server.notAfter,
    renewAt: server.notAfter - o.renewBeforeDays * day,
    action,
  };
}

function filesOf(dir: string) {
  return {
    ca: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca-key.pem'),
    server: join(dir, 'server.pem'),
    serverKey: join(dir, 'server-key.pem'),
  };
}

interface Issued {
  pem: string;
  keyPem: string;
  cert: InstanceType<X509['X509Certificate']>;
  key: webcrypto.CryptoKey;
  notAfter: number;
}

/** The CA on disk if it is whole, valid now, and its key matches its certificate; otherwise undefined. */
async function readCa(paths: ReturnType<typeof filesOf>, x509: X509, now: number): Promise<Issued | undefined> {
  const pair = await readPair(paths.ca, paths.caKey, x509);
  if (pair === undefined) return undefined;
  const basic = pair.cert.getExtension(x509.BasicConstraintsExtension);
  if (basic?.ca !== true || pair.cert.notAfter.getTime() <= now + day) return undefined;
  return pair;
}

async function readServer(
  paths: ReturnType<typeof filesOf>,
  x509: X509,
  ca: Issued,
  o: Resolved,
  now: number,
): Promise<Issued | undefined> {
  const pair = await readPair(paths.server, paths.serverKey, x509);
  if (pair === undefined) return undefined;
  if (pair.notAfter - o.renewBeforeDays * day <= now) return undefined;
  const signed = await pair.cert
    .verify({ publicKey: ca.cert.publicKey, signatureOnly: true }, webcrypto)
    .catch(() => false);
  if (!signed) return undefined;
  const san = pair.cert.getExtension(x509.SubjectAlternativeNameExtension);
  const names = new Set((san?.names.items ?? []).map((n) => normalizeHost(n.value)));
  return o.hosts.every((h) => names.has(normalizeHost(h))) ? pair : undefined;
}

/** A certificate and its key read from disk; undefined when either is missing, unparsable or they do not match. */
async function readPair(certPath: string, keyPath: string, x509: X509): Promise<Issued | undefined> {
  let pem: string;
  let keyPem: string;
  try {
    [pem, keyPem] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TlsError('TLS_UNAVAILABLE', `Could not read ${certPath} or ${keyPath}.`, {
      cause,
      detail: { path: certPath },
    });
  }
  try {
    const cert = new x509.X509Certificate(pem);
    const der = x509.PemConverter.decodeFirst(keyPem);
    const key = await webcrypto.subtle.importKey('pkcs8', der, ecdsa, true, ['sign']);
    const jwk = await webcrypto.subtle.exportKey('jwk', key);
    const pub = await webcrypto.subtle.exportKey('jwk', await cert.publicKey.export(ecdsa, ['verify'], webcrypto));
    if (jwk.x !== pub.x || jwk.y !== pub.y) return undefined;
    return { pem, keyPem, cert, key, notAfter: cert.notAfter.getTime() };
  } catch {
    return undefined; // not ours, or damaged: made anew
  }
}

async function createCa(o: Resolved, x509: X509, now: number): Promise<Issued> {
  const keys = await webcrypto.subtle.generateKey(ecdsa, true, ['sign', 'verify']);
  const suffix = Buffer.from(webcrypto.getRandomValues(new Uint8Array(4))).toString('hex');
  const notAfter = new Date(now + o.caValidityDays * day);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: `CN=Hubbub local CA ${suffix}, O=Hubbub`,
      notBefore: new Date(now - 3_600_000),
      notAfter,
      keys,
      signingAlgorithm: ecdsa,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto),
      ],
    },
    webcrypto,
  );
  return issued(cert, keys.privateKey, x509);
}

async function createServer(o: Resolved, x509: X509, ca: Issued, now: number): Promise<Issued> {
  const keys = await webcrypto.subtle.generateKey(ecdsa, true, ['sign', 'verify']);
  const notAfter = Math.min(now + o.serverValidityDays * day, ca.notAfter);
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serial(),
      subject: 'CN=Hubbub local server',
      issuer: ca.cert.subject,
      notBefore: new Date(now - 3_600_000),
      notAfter: new Date(notAfter),
      publicKey: keys.publicKey,
      signingKey: ca.key,
      signingAlgorithm: ecdsa,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension(
          o.hosts.map((h) => ({ type: isIP(h) === 0 ? ('dns' as const) : ('ip' as const), value: h })),
          false,
        ),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto),
        await x509.AuthorityKeyIdentifierExtension.create(ca.cert, false, webcrypto),
      ],
    },
    webcrypto,
  );
  return issued(cert, keys.privateKey, x509);
}

async function issued(cert: Issued['cert'], key: webcrypto.CryptoKey, x509: X509): Promise<Issued> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return {
    pem: `${cert.toString('pem')}\n`,
    keyPem: `${x509.PemConverter.encode(der, 'PRIVATE KEY')}\n`,
    cert,
    key,
    notAfter: cert.notAfter.getTime(),
  };
}

/** A positive 128-bit serial number, hex. */
function serial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return Buffer.from(bytes).toString('hex');
}

/** `::1` and `0:0:0:0:0:0:0:1` are one address; DNS names compare without case. */
function normalizeHost(host: string): string {
  if (isIP(host) === 6) return new URL(`http://[${host}]/`).hostname;
  return host.toLowerCase();
}

async function writeFileAtomic(path: string, text: string, mode: number): Promise<void> {
  const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(temp, text, { mode });
  await rename(temp, path);
}

/**
 * One process at a time creates or renews: a lock directory, taken over when older than
 * {@link lockStaleMs} (its holder died). Real time, not the injected clock: it is compared with file times.
 */
async function lock(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, '.lock');
  const started = Date.now();
  for (;;) {
    try {
      await mkdir(path);
      return () => rmdir(path).catch(() => {});
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new TlsError('TLS_UNAVAILABLE', `Could not lock ${dir} to create the local CA.`, {
          cause,
          detail: { path: dir },
        });
      }
    }
    const held = await stat(path).then(
      (s) => s.mtimeMs,
      () => undefined,
    );
    if (held !== undefined && Date.now() - held > lockStaleMs) {
      await rmdir(path).catch(() => {});
      continue;
    }
    if (Date.now() - started > lockWaitMs) {
      throw new TlsError('TLS_UNAVAILABLE', `Another process holds ${path}; remove it if no Hubbub is starting.`, {
        detail: { path },
      });
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
