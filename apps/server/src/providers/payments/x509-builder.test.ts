import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { derInteger, issueSigningChain } from './x509-builder.ts';

describe('X.509 builder', () => {
  it('encodes integers minimally and never negative', () => {
    expect(derInteger(Buffer.from([0x00, 0x00, 0x7f])).toString('hex')).toBe('02017f');
    expect(derInteger(Buffer.from([0x00, 0x80])).toString('hex')).toBe('02020080');
    expect(derInteger(Buffer.from([0xff, 0x01])).toString('hex')).toBe('020300ff01');
    expect(derInteger(Buffer.from([0x00])).toString('hex')).toBe('020100');
  });

  it('issues a chain that X.509 parsers accept, each certificate signed by the next', () => {
    const chain = issueSigningChain('Test', new Date('2026-01-01T00:00:00Z'), 1);
    const [leaf, intermediate, root] = [chain.leaf, chain.intermediate, chain.root].map(
      (c) => new X509Certificate(c.der),
    );
    expect(root?.verify(root.publicKey)).toBe(true);
    expect(intermediate?.verify(root?.publicKey as X509Certificate['publicKey'])).toBe(true);
    expect(leaf?.verify(intermediate?.publicKey as X509Certificate['publicKey'])).toBe(true);
    expect([root?.ca, intermediate?.ca, leaf?.ca]).toEqual([true, true, false]);
    expect(leaf?.issuer).toBe(intermediate?.subject);
    expect(new Date(leaf?.validTo ?? 0).getUTCFullYear()).toBe(2027);
  });
});
