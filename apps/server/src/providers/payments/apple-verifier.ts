import {
  Environment,
  type JWSRenewalInfoDecodedPayload,
  type JWSTransactionDecodedPayload,
  type ResponseBodyV2DecodedPayload,
  SignedDataVerifier,
  VerificationException,
  VerificationStatus,
} from '@apple/app-store-server-library';

/** Which store a verified JWS came from: the App Store, or our own sandbox store. */
export type AppleStoreLabel = 'apple' | 'sandbox';

/**
 * One set of trusted roots. Never `Xcode` or `LocalTesting`: the library skips signature checks in
 * those environments, so they are not accepted here.
 */
export type AppleTrust = {
  store: AppleStoreLabel;
  /** DER-encoded root certificates. */
  roots: Buffer[];
  environment: 'Production' | 'Sandbox';
  bundleId: string;
  /** Required by the library in Production. */
  appAppleId?: number;
  /** OCSP revocation checks and "now" as the validity date (Apple); off for the sandbox store. */
  onlineChecks: boolean;
};

export type VerifiedTransaction = { store: AppleStoreLabel; transaction: JWSTransactionDecodedPayload };
export type VerifiedNotification = {
  store: AppleStoreLabel;
  notification: ResponseBodyV2DecodedPayload;
  transaction: JWSTransactionDecodedPayload | null;
  renewal: JWSRenewalInfoDecodedPayload | null;
};

export class AppleVerificationError extends Error {
  override name = 'AppleVerificationError';
  /** The library's VerificationStatus name, e.g. VERIFICATION_FAILURE. */
  readonly status: string;
  /** Apple could not be reached for the OCSP check: the caller may try again later. */
  readonly retryable: boolean;

  constructor(status: number | undefined) {
    const name = status === undefined ? 'FAILURE' : (VerificationStatus[status] ?? 'FAILURE');
    super(`Apple signed data refused: ${name}`);
    this.status = name;
    this.retryable = status === VerificationStatus.RETRYABLE_VERIFICATION_FAILURE;
  }
}

/**
 * Verifies StoreKit 2 signed transactions and App Store Server Notifications V2 with Apple's own
 * `SignedDataVerifier`: the x5c chain must lead to one of the configured roots and carry Apple's
 * marker extensions, and the JWS must be signed by the leaf. Each trust (Apple, sandbox) has its own
 * verifier, so the answer says which store signed it; the sandbox root is only present when the
 * sandbox store is enabled.
 */
export class AppleVerifier {
  private readonly verifiers: Array<{ store: AppleStoreLabel; verifier: SignedDataVerifier }>;

  constructor(trusts: AppleTrust[]) {
    this.verifiers = trusts.map((t) => ({
      store: t.store,
      verifier: new SignedDataVerifier(
        t.roots,
        t.onlineChecks,
        t.environment === 'Production' ? Environment.PRODUCTION : Environment.SANDBOX,
        t.bundleId,
        t.appAppleId,
      ),
    }));
  }

  get enabled(): boolean {
    return this.verifiers.length > 0;
  }

  async verifyTransaction(signedTransaction: string): Promise<VerifiedTransaction> {
    return this.first(async ({ store, verifier }) => ({
      store,
      transaction: await verifier.verifyAndDecodeTransaction(signedTransaction),
    }));
  }

  async verifyNotification(signedPayload: string): Promise<VerifiedNotification> {
    return this.first(async ({ store, verifier }) => {
      const notification = await verifier.verifyAndDecodeNotification(signedPayload);
      // The nested JWS must come from the same store as the envelope.
      const transaction = notification.data?.signedTransactionInfo
        ? await verifier.verifyAndDecodeTransaction(notification.data.signedTransactionInfo)
        : null;
      const renewal = notification.data?.signedRenewalInfo
        ? await verifier.verifyAndDecodeRenewalInfo(notification.data.signedRenewalInfo)
        : null;
      return { store, notification, transaction, renewal };
    });
  }

  private async first<T>(
    attempt: (v: { store: AppleStoreLabel; verifier: SignedDataVerifier }) => Promise<T>,
  ): Promise<T> {
    let failure: AppleVerificationError | undefined;
    for (const entry of this.verifiers) {
      try {
        return await attempt(entry);
      } catch (error) {
        const status = error instanceof VerificationException ? error.status : undefined;
        const refused = new AppleVerificationError(status);
        // A retryable failure (OCSP unreachable) is more useful to report than "not our root".
        if (!failure || refused.retryable) failure = refused;
      }
    }
    throw failure ?? new AppleVerificationError(undefined);
  }
}
