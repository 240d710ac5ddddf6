import { createCipheriv, createDecipheriv, createECDH, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Web Push message encryption, RFC 8291 (with the aes128gcm content coding of RFC 8188), on
 * node:crypto alone. `decrypt` is what a browser does; the loopback push service in the tests uses
 * it to read what the provider sent.
 */

const RECORD_SIZE = 4096;

function keys(input: {
  ecdhSecret: Buffer;
  authSecret: Buffer;
  uaPublic: Buffer;
  asPublic: Buffer;
  salt: Buffer;
}): { cek: Buffer; nonce: Buffer } {
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), input.uaPublic, input.asPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', input.ecdhSecret, input.authSecret, keyInfo, 32));
  const cek = Buffer.from(
    hkdfSync('sha256', ikm, input.salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16),
  );
  const nonce = Buffer.from(
    hkdfSync('sha256', ikm, input.salt, Buffer.from('Content-Encoding: nonce\0'), 12),
  );
  return { cek, nonce };
}

/** Encrypts `plaintext` for a subscription's `p256dh` (uncompressed P-256 point) and `auth` secret. */
export function encryptPayload(plaintext: Buffer, p256dh: Buffer, authSecret: Buffer): Buffer {
  const ecdh = createECDH('prime256v1');
  const asPublic = ecdh.generateKeys();
  const salt = randomBytes(16);
  const { cek, nonce } = keys({
    ecdhSecret: ecdh.computeSecret(p256dh),
    authSecret,
    uaPublic: p256dh,
    asPublic,
    salt,
  });
  const cipher = createCipheriv('aes-128-gcm', cek, nonce);
  // One record: the payload, then the 0x02 delimiter of the last record.
  const encrypted = Buffer.concat([
    cipher.update(Buffer.concat([plaintext, Buffer.from([2])])),
    cipher.final(),
  ]);
  const header = Buffer.alloc(21);
  salt.copy(header, 0);
  header.writeUInt32BE(RECORD_SIZE, 16);
  header.writeUInt8(asPublic.length, 20);
  return Buffer.concat([header, asPublic, encrypted, cipher.getAuthTag()]);
}

/** The user agent's side: decrypts a single-record aes128gcm body with its private key and auth secret. */
export function decryptPayload(body: Buffer, uaPrivate: Buffer, authSecret: Buffer): Buffer {
  const salt = body.subarray(0, 16);
  const idLength = body.readUInt8(20);
  const asPublic = body.subarray(21, 21 + idLength);
  const ciphertext = body.subarray(21 + idLength, body.length - 16);
  const tag = body.subarray(body.length - 16);
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(uaPrivate);
  const { cek, nonce } = keys({
    ecdhSecret: ecdh.computeSecret(asPublic),
    authSecret,
    uaPublic: ecdh.getPublicKey(),
    asPublic,
    salt,
  });
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(tag);
  const padded = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (padded[end] !== 2) throw new Error('not a last record');
  return padded.subarray(0, end);
}
