import type { Clock } from '../../platform/clock.ts';
import type { Config } from '../../platform/config/config.ts';
import type { Db } from '../../platform/db/database.ts';
import { badInput, forbidden } from '../../platform/errors/app-error.ts';
import type { Logger } from '../../platform/observability/logger.ts';
import {
  parseServiceAccount,
  ServiceAccountTokenSource,
} from '../../providers/google/service-account-token.ts';
import { type AppleTrust, AppleVerifier } from '../../providers/payments/apple-verifier.ts';
import { ANDROID_PUBLISHER_SCOPE, GooglePlayClient } from '../../providers/payments/google-play.client.ts';
import { PubSubPushAuthenticator } from '../../providers/payments/pubsub-push-auth.ts';
import { SandboxStore } from '../../providers/payments/sandbox-store.ts';
import type { LedgerService } from '../balance/ledger.service.ts';
import type { EventLog } from '../event_log/event-log.service.ts';
import type { AuditLog } from '../mission_control/audit-log.ts';
import type { SettingsService } from '../settings/settings.service.ts';
import { ApplePurchases, milliunitsToMinor } from './apple-purchases.ts';
import { GooglePurchases } from './google-purchases.ts';
import type { Purchase } from './payment.repository.ts';
import { PaymentRepository } from './payment.repository.ts';
import { PaymentService } from './payment.service.ts';
import { PaymentReportsRepository } from './payment-reports.repository.ts';
import { ProductRepository } from './product.repository.ts';
import { ProductService } from './product.service.ts';

/** Minor units back to StoreKit's milliunits (the sandbox prices its transactions like Apple). */
function minorToMilliunits(amountMinor: bigint, currency: string): number {
  const probe = Number(milliunitsToMinor(1000, currency)); // 10^digits
  return Math.round((Number(amountMinor) * 1000) / probe);
}

/**
 * Wires the payment domain: the shared purchase rules, the product catalogue, the Apple path (App
 * Store and sandbox store), Google Play and the Pub/Sub push authentication.
 */
export function createPayments(deps: {
  db: Db;
  config: Config;
  clock: Clock;
  logger: Logger;
  ledger: LedgerService;
  settings: SettingsService;
  eventLog: EventLog;
  audit: AuditLog;
}) {
  const { db, config, clock, logger } = deps;
  const settings = config.payments;
  const repo = new PaymentRepository(db);
  const productRepo = new ProductRepository(db);
  const reports = new PaymentReportsRepository(db);
  const service = new PaymentService({
    db,
    repo,
    reports,
    products: productRepo,
    ledger: deps.ledger,
    settings: deps.settings,
    eventLog: deps.eventLog,
    clock,
  });
  const products = new ProductService({
    db,
    repo: productRepo,
    settings: deps.settings,
    audit: deps.audit,
    clock,
  });
  const sandbox = settings.sandbox
    ? new SandboxStore({
        chains: {
          load: () => reports.loadSandboxChain(),
          saveIfAbsent: (c) => reports.saveSandboxChainIfAbsent(c),
        },
        clock,
        bundleId: settings.apple.bundleId,
      })
    : undefined;
  let verifier: Promise<AppleVerifier> | undefined;
  const appleVerifier = () => {
    verifier ??= (async () => {
      const trusts: AppleTrust[] = [];
      if (settings.apple.roots.length > 0) {
        trusts.push({
          store: 'apple',
          roots: settings.apple.roots,
          environment: settings.apple.environment,
          bundleId: settings.apple.bundleId,
          ...(settings.apple.appAppleId ? { appAppleId: settings.apple.appAppleId } : {}),
          onlineChecks: settings.apple.onlineChecks,
        });
      }
      // The sandbox root is trusted only while the sandbox store is enabled.
      if (sandbox) trusts.push(await sandbox.trust());
      return new AppleVerifier(trusts);
    })().catch((error) => {
      verifier = undefined;
      throw error;
    });
    return verifier;
  };
  const apple = new ApplePurchases({
    db,
    payments: service,
    products: productRepo,
    verifier: appleVerifier,
    clock,
  });
  const googleClient = settings.google
    ? new GooglePlayClient({
        packageName: settings.google.packageName,
        baseUrl: settings.google.apiUrl,
        tokens: new ServiceAccountTokenSource({
          credentials: parseServiceAccount(settings.google.serviceAccountJson),
          scopes: [ANDROID_PUBLISHER_SCOPE],
          clock,
          ...(settings.google.tokenUrl ? { tokenUrl: settings.google.tokenUrl } : {}),
        }),
      })
    : undefined;
  const google = new GooglePurchases({
    db,
    payments: service,
    products: productRepo,
    client: googleClient,
    clock,
    logger,
  });
  const rtdnAuth = new PubSubPushAuthenticator({
    ...(settings.rtdn.audience ? { audience: settings.rtdn.audience } : {}),
    ...(settings.rtdn.serviceAccountEmail ? { serviceAccountEmail: settings.rtdn.serviceAccountEmail } : {}),
    ...(settings.rtdn.sharedToken ? { sharedToken: settings.rtdn.sharedToken } : {}),
    jwksUrl: settings.rtdn.jwksUrl,
    now: () => clock.now(),
  });

  /**
   * The sandbox store's "buy" button: it signs a StoreKit-shaped transaction for the caller and
   * verifies it through the same Apple code as a real one. Refused unless the sandbox is enabled.
   */
  const sandboxPurchase = async (userId: string, sku: string, country: string | null): Promise<Purchase> => {
    if (!sandbox) throw forbidden('The sandbox store is not enabled');
    const product = await productRepo.bySku(sku);
    if (!product?.active) throw badInput(`Unknown product ${sku}`, { field: 'productId' });
    const price = await productRepo.priceFor(product.id, 'sandbox', country);
    const currency = price?.currency ?? 'USD';
    const now = clock.now();
    const expires = new Date(now.getTime() + 30 * 24 * 3600 * 1000);
    const signed = await sandbox.signTransaction({
      productId: sku,
      appAccountToken: userId,
      type: product.type === 'subscription' ? 'Auto-Renewable Subscription' : 'Consumable',
      price: price ? minorToMilliunits(price.amountMinor, currency) : 0,
      currency,
      storefront: country ?? 'ZZZ',
      ...(product.type === 'subscription' ? { expiresDate: expires } : {}),
    });
    return apple.verifyPurchase(userId, signed);
  };

  return {
    service,
    products,
    apple,
    google,
    sandbox,
    rtdnAuth,
    sandboxPurchase,
    dailyRevenue: (from: Date, to: Date) => service.dailyRevenue(from, to),
  };
}

export type Payments = ReturnType<typeof createPayments>;
