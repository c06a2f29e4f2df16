/**
 * TLS certificates: load from explicit files or `certsDir`, generate a
 * self-signed one when there is none (SHA-256, 365 days, SAN = hostname, key
 * mode 0600), and watch the files so a renewed certificate is served without a
 * restart. A replacement that does not parse, or whose key does not match, is
 * refused and the certificate in use is kept (reported through `onReload`).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { generate } from 'selfsigned';
import { DAY_MS } from '../shared/index.ts';

/** Lifetime of a generated certificate: long-lived keys, watched for expiry (the `CertificateExpiring` alert). */
export const GENERATED_CERT_DAYS = 365;

export interface CertificateFiles {
  keyFile: string;
  certFile: string;
  /** Optional intermediate chain appended to the served certificate. */
  chainFile: string | null;
}

export interface LoadedCertificate {
  key: string;
  /** Certificate plus chain, PEM. */
  cert: string;
  files: CertificateFiles;
  subject: string;
  fingerprint256: string;
  notBefore: Date;
  notAfter: Date;
  /** mtimes used to notice a replacement. */
  stamp: string;
}

export interface CertificateSettings {
  certsDir: string;
  certFile: string | null;
  keyFile: string | null;
  hostname: string;
  generate: boolean;
}

/** The files a configuration points at: explicit ones win over `certsDir`. */
export function certificateFiles(s: CertificateSettings): CertificateFiles {
  if (s.certFile && s.keyFile) return { certFile: s.certFile, keyFile: s.keyFile, chainFile: null };
  const chain = path.join(s.certsDir, 'chain.pem');
  return {
    certFile: path.join(s.certsDir, 'cert.pem'),
    keyFile: path.join(s.certsDir, 'key.pem'),
    chainFile: fs.existsSync(chain) ? chain : null,
  };
}

async function stampOf(files: CertificateFiles): Promise<string> {
  const parts = await Promise.all(
    [files.keyFile, files.certFile, files.chainFile].map(async (f) =>
      f
        ? fsp.stat(f).then(
            (s) => `${s.mtimeMs}:${s.size}:${s.ino}`,
            () => 'missing',
          )
        : '-',
    ),
  );
  return parts.join('|');
}

/** Reads and validates a certificate/key pair. Throws with a sentence saying what is wrong. */
export async function readCertificate(files: CertificateFiles): Promise<LoadedCertificate> {
  const stamp = await stampOf(files);
  const [key, certPem, chain] = await Promise.all([
    fsp.readFile(files.keyFile, 'utf8'),
    fsp.readFile(files.certFile, 'utf8'),
    files.chainFile ? fsp.readFile(files.chainFile, 'utf8').catch(() => '') : Promise.resolve(''),
  ]);
  let x509: crypto.X509Certificate;
  try {
    x509 = new crypto.X509Certificate(certPem);
  } catch (err) {
    throw new Error(`${files.certFile} is not a PEM certificate (${(err as Error).message})`, { cause: err });
  }
  let privateKey: crypto.KeyObject;
  try {
    privateKey = crypto.createPrivateKey(key);
  } catch (err) {
    throw new Error(`${files.keyFile} is not a PEM private key (${(err as Error).message})`, { cause: err });
  }
  if (!x509.checkPrivateKey(privateKey))
    throw new Error(`${files.keyFile} does not match the certificate in ${files.certFile}`);
  const cert = chain && !certPem.includes(chain.trim()) ? `${certPem.trimEnd()}\n${chain}` : certPem;
  return {
    key,
    cert,
    files,
    subject: x509.subject,
    fingerprint256: x509.fingerprint256,
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
    stamp,
  };
}

/** Generates a self-signed certificate for `hostname` into the files (key 0600). */
export async function generateCertificate(
  files: CertificateFiles,
  hostname: string,
  opts: { days?: number; now?: Date } = {},
): Promise<void> {
  const now = opts.now ?? new Date();
  const days = opts.days ?? GENERATED_CERT_DAYS;
  const pems = await generate([{ name: 'commonName', value: hostname }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: new Date(now.getTime() + days * DAY_MS),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: hostname },
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  await fsp.mkdir(path.dirname(files.keyFile), { recursive: true });
  // Write via temp + rename so a watcher never reads half a file.
  await writeAtomic(files.keyFile, pems.private, 0o600);
  await writeAtomic(files.certFile, pems.cert, 0o644);
}

async function writeAtomic(file: string, data: string, mode: number): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await fsp.writeFile(tmp, data, { mode });
  await fsp.chmod(tmp, mode);
  await fsp.rename(tmp, file);
}

/** Loads the configured certificate, generating one first when allowed and none exists. */
export async function loadOrCreateCertificate(
  s: CertificateSettings,
): Promise<{ cert: LoadedCertificate; generated: boolean }> {
  const files = certificateFiles(s);
  const exists = fs.existsSync(files.certFile) && fs.existsSync(files.keyFile);
  if (!exists) {
    if (!s.generate || (s.certFile && s.keyFile)) {
      throw new Error(
        `no certificate at ${files.certFile} / ${files.keyFile} (set tls.generate=true to create a self-signed one)`,
      );
    }
    await generateCertificate(files, s.hostname);
    return { cert: await readCertificate(files), generated: true };
  }
  return { cert: await readCertificate(files), generated: false };
}

export type ReloadEvent = { ok: true; cert: LoadedCertificate } | { ok: false; error: Error; kept: LoadedCertificate };

/**
 * Polls the certificate files (polling, not fs.watch: renewal tools swap files
 * by rename and symlink, which inotify-based watchers miss) and reports each
 * change once: a valid replacement, or a refusal with the certificate kept.
 */
export class CertificateWatcher {
  private current: LoadedCertificate;
  private lastSeenStamp: string;
  private timer: NodeJS.Timeout | null = null;
  private checking = false;

  constructor(
    initial: LoadedCertificate,
    private readonly intervalMs: number,
    private readonly onReload: (e: ReloadEvent) => void,
  ) {
    this.current = initial;
    this.lastSeenStamp = initial.stamp;
  }

  get certificate(): LoadedCertificate {
    return this.current;
  }

  start(): void {
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  /** Checks the files now; resolves after any reload was applied or refused. */
  async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const stamp = await stampOf(this.current.files);
      if (stamp === this.lastSeenStamp) return;
      this.lastSeenStamp = stamp;
      try {
        const next = await readCertificate(this.current.files);
        this.current = next;
        this.onReload({ ok: true, cert: next });
      } catch (error) {
        this.onReload({ ok: false, error: error as Error, kept: this.current });
      }
    } finally {
      this.checking = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
