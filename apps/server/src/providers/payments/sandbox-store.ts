import { createPrivateKey, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Clock } from '../../platform/clock.ts';
import type { AppleTrust } from './apple-verifier.ts';
import { issueSigningChain, type SigningChain } from './x509-builder.ts';

/** The sandbox chain as stored: DER certificates and the leaf's private key (PKCS#8 PEM). */
export type StoredSandboxChain = {
  rootDer: Buffer;
  intermediateDer: Buffer;
  leafDer: Buffer;
  leafPrivateKeyPem: string;
};

/** Where the chain is kept (the payment repository: one row, made once, shared by every node). */
export type SandboxChainStore = {
  load(): Promise<StoredSandboxChain | undefined>;
  /** Saves unless a chain exists already; returns the one that won. */
  saveIfAbsent(chain: StoredSandboxChain): Promise<StoredSandboxChain>;
};

export const SANDBOX_CHAIN_YEARS = 30;

export function storedChainOf(chain: SigningChain): StoredSandboxChain {
  return {
    rootDer: chain.root.der,
    intermediateDer: chain.intermediate.der,
    leafDer: chain.leaf.der,
    leafPrivateKeyPem: chain.leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** Signs a StoreKit-shaped JWS (ES256, x5c = leaf, intermediate, root) as the App Store does. */
export async function signStoreKitJws(
  chain: StoredSandboxChain,
  payload: Record<string, unknown>,
): Promise<string> {
  return new SignJWT(payload)
    .setProtectedHeader({
      alg: 'ES256',
      x5c: [chain.leafDer, chain.intermediateDer, chain.rootDer].map((d) => d.toString('base64')),
    })
    .sign(createPrivateKey(chain.leafPrivateKeyPem));
}

export type SandboxTransactionInput = {
  productId: string;
  appAccountToken: string;
  type: 'Consumable' | 'Auto-Renewable Subscription';
  price: number;
  currency: string;
  /** ISO 3166-1 alpha-3, as StoreKit reports the storefront. */
  storefront: string;
  transactionId?: string;
  originalTransactionId?: string;
  purchaseDate?: Date;
  expiresDate?: Date;
  revocationDate?: Date;
  revocationReason?: 0 | 1;
  /** When the store signed it; now by default (tests make late, older deliveries with it). */
  signedDate?: Date;
};

/**
 * The local store: it "sells" products by signing StoreKit 2 transactions and App Store Server
 * Notifications V2 with its own certificate chain, which then go through the same Apple verification
 * code as the App Store's. Its root is trusted only while the sandbox store is enabled.
 */
export class SandboxStore {
  private readonly deps: { chains: SandboxChainStore; clock: Clock; bundleId: string };
  private chain: Promise<StoredSandboxChain> | undefined;

  constructor(deps: SandboxStore['deps']) {
    this.deps = deps;
  }

  /** The chain, made on first use and kept in the database. */
  async signingChain(): Promise<StoredSandboxChain> {
    this.chain ??= (async () => {
      const existing = await this.deps.chains.load();
      if (existing) return existing;
      // Valid from a day back: the verifier checks the chain at each JWS's signedDate, which may be a
      // little older than the chain (late deliveries, clock skew between nodes).
      const notBefore = new Date(this.deps.clock.now().getTime() - 24 * 3600 * 1000);
      const issued = issueSigningChain('OLO Sandbox Store', notBefore, SANDBOX_CHAIN_YEARS);
      return this.deps.chains.saveIfAbsent(storedChainOf(issued));
    })();
    try {
      return await this.chain;
    } catch (error) {
      this.chain = undefined;
      throw error;
    }
  }

  async trust(): Promise<AppleTrust> {
    const chain = await this.signingChain();
    return {
      store: 'sandbox',
      roots: [chain.rootDer],
      environment: 'Sandbox',
      bundleId: this.deps.bundleId,
      onlineChecks: false,
    };
  }

  transactionPayload(input: SandboxTransactionInput): Record<string, unknown> {
    const now = this.deps.clock.now().getTime();
    const transactionId = input.transactionId ?? randomUUID();
    const purchaseDate = input.purchaseDate?.getTime() ?? now;
    return {
      transactionId,
      originalTransactionId: input.originalTransactionId ?? transactionId,
      bundleId: this.deps.bundleId,
      productId: input.productId,
      purchaseDate,
      originalPurchaseDate: purchaseDate,
      quantity: 1,
      type: input.type,
      appAccountToken: input.appAccountToken,
      inAppOwnershipType: 'PURCHASED',
      signedDate: input.signedDate?.getTime() ?? now,
      environment: 'Sandbox',
      transactionReason: 'PURCHASE',
      storefront: input.storefront,
      storefrontId: '000000',
      price: input.price,
      currency: input.currency,
      ...(input.expiresDate ? { expiresDate: input.expiresDate.getTime() } : {}),
      ...(input.revocationDate
        ? { revocationDate: input.revocationDate.getTime(), revocationReason: input.revocationReason ?? 0 }
        : {}),
    };
  }

  async signTransaction(input: SandboxTransactionInput): Promise<string> {
    return signStoreKitJws(await this.signingChain(), this.transactionPayload(input));
  }

  /** An App Store Server Notification V2 `signedPayload` about one transaction. */
  async signNotification(input: {
    notificationType: string;
    subtype?: string;
    notificationUUID?: string;
    transaction: SandboxTransactionInput;
  }): Promise<string> {
    const chain = await this.signingChain();
    const signedTransactionInfo = await signStoreKitJws(chain, this.transactionPayload(input.transaction));
    return signStoreKitJws(chain, {
      notificationType: input.notificationType,
      ...(input.subtype ? { subtype: input.subtype } : {}),
      notificationUUID: input.notificationUUID ?? randomUUID(),
      version: '2.0',
      signedDate: this.deps.clock.now().getTime(),
      data: {
        bundleId: this.deps.bundleId,
        environment: 'Sandbox',
        signedTransactionInfo,
      },
    });
  }
}
