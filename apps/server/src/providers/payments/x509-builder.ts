import { generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';

/**
 * Just enough DER to issue the ES256 certificates of a StoreKit-shaped signing chain (root →
 * intermediate → leaf) with node:crypto alone: no openssl binary and no extra dependency. The sandbox
 * store uses it for its own chain; tests use it to build trusted and untrusted chains, as Apple's own
 * library tests do with fixed certificates.
 */

const der = (tag: number, body: Buffer): Buffer => {
  const length = body.length;
  let header: Buffer;
  if (length < 0x80) header = Buffer.from([tag, length]);
  else if (length < 0x100) header = Buffer.from([tag, 0x81, length]);
  else if (length < 0x10000) header = Buffer.from([tag, 0x82, length >> 8, length & 0xff]);
  else throw new Error('DER value too long');
  return Buffer.concat([header, body]);
};

const seq = (...items: Buffer[]) => der(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => der(0x31, Buffer.concat(items));
const explicit = (n: number, inner: Buffer) => der(0xa0 + n, inner);
const octets = (body: Buffer) => der(0x04, body);
const bool = (value: boolean) => der(0x01, Buffer.from([value ? 0xff : 0x00]));
const utf8 = (text: string) => der(0x0c, Buffer.from(text, 'utf8'));

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const bytes: number[] = [40 * (parts[0] ?? 0) + (parts[1] ?? 0)];
  for (const part of parts.slice(2)) {
    const chunk: number[] = [part & 0x7f];
    let rest = Math.floor(part / 128);
    while (rest > 0) {
      chunk.unshift((rest & 0x7f) | 0x80);
      rest = Math.floor(rest / 128);
    }
    bytes.push(...chunk);
  }
  return der(0x06, Buffer.from(bytes));
}

/** A non-negative DER INTEGER: minimal (strict parsers refuse redundant leading zeros), never negative. */
export function derInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const minimal = bytes.subarray(start);
  // A leading 1 bit would read as negative.
  return der(0x02, (minimal[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), minimal]) : minimal);
}

function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  // RFC 5280: UTCTime through 2049, GeneralizedTime after.
  return date.getUTCFullYear() < 2050
    ? der(0x17, Buffer.from(`${iso.slice(2)}Z`))
    : der(0x18, Buffer.from(`${iso}Z`));
}

const name = (commonName: string) => seq(set(seq(oid('2.5.4.3'), utf8(commonName))));

const ECDSA_WITH_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

/** Apple's marker extensions that `SignedDataVerifier` requires on the intermediate and the leaf. */
export const APPLE_INTERMEDIATE_OID = '1.2.840.113635.100.6.2.1';
export const APPLE_LEAF_OID = '1.2.840.113635.100.6.11.1';

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
}

export type CertificateRole = 'root' | 'intermediate' | 'leaf';

export type IssuedCertificate = { der: Buffer; privateKey: KeyObject; subject: string };

/**
 * Issues one certificate. `issuer` signs it (self-signed when absent). Roots and intermediates are CAs;
 * intermediates and leaves carry the Apple marker extension of their place in the chain.
 */
export function issueCertificate(input: {
  role: CertificateRole;
  subject: string;
  issuer?: IssuedCertificate;
  notBefore: Date;
  notAfter: Date;
}): IssuedCertificate {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const extensions: Buffer[] = [
    extension('2.5.29.19', true, input.role === 'leaf' ? seq() : seq(bool(true))),
    // keyCertSign + cRLSign for CAs, digitalSignature for the leaf.
    extension(
      '2.5.29.15',
      true,
      der(0x03, input.role === 'leaf' ? Buffer.from([7, 0x80]) : Buffer.from([1, 0x06])),
    ),
  ];
  if (input.role === 'intermediate')
    extensions.push(extension(APPLE_INTERMEDIATE_OID, false, der(0x05, Buffer.alloc(0))));
  if (input.role === 'leaf') extensions.push(extension(APPLE_LEAF_OID, false, der(0x05, Buffer.alloc(0))));
  const tbs = seq(
    explicit(0, derInteger(Buffer.from([2]))),
    derInteger(randomBytes(16)),
    ECDSA_WITH_SHA256,
    name(input.issuer?.subject ?? input.subject),
    seq(time(input.notBefore), time(input.notAfter)),
    name(input.subject),
    spki,
    explicit(3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, input.issuer?.privateKey ?? privateKey);
  const certificate = seq(tbs, ECDSA_WITH_SHA256, der(0x03, Buffer.concat([Buffer.from([0]), signature])));
  return { der: certificate, privateKey, subject: input.subject };
}

export type SigningChain = {
  root: IssuedCertificate;
  intermediate: IssuedCertificate;
  leaf: IssuedCertificate;
};

/** A root → intermediate → leaf chain valid from `notBefore` for `years`. */
export function issueSigningChain(prefix: string, notBefore: Date, years: number): SigningChain {
  const notAfter = new Date(notBefore.getTime());
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + years);
  const root = issueCertificate({ role: 'root', subject: `${prefix} Root CA`, notBefore, notAfter });
  const intermediate = issueCertificate({
    role: 'intermediate',
    subject: `${prefix} Intermediate CA`,
    issuer: root,
    notBefore,
    notAfter,
  });
  const leaf = issueCertificate({
    role: 'leaf',
    subject: `${prefix} Signing`,
    issuer: intermediate,
    notBefore,
    notAfter,
  });
  return { root, intermediate, leaf };
}
