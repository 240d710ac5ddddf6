import { z } from 'zod';
import type { ServiceAccountTokenSource } from '../google/service-account-token.ts';

export const ANDROID_PUBLISHER_SCOPE = 'https://www.googleapis.com/auth/androidpublisher';
export const GOOGLE_PLAY_API_URL = 'https://androidpublisher.googleapis.com';

/** `ProductPurchase` of the Android Publisher API v3 (the fields we use). */
const productPurchaseSchema = z.object({
  purchaseTimeMillis: z.coerce.number().optional(),
  // 0 purchased, 1 canceled, 2 pending.
  purchaseState: z.number().int().optional(),
  // 0 yet to be consumed, 1 consumed.
  consumptionState: z.number().int().optional(),
  orderId: z.string().min(1).optional(),
  // 0 test (license testers), 1 promo, 2 rewarded; absent for a real purchase.
  purchaseType: z.number().int().optional(),
  productId: z.string().optional(),
  quantity: z.number().int().optional(),
  obfuscatedExternalAccountId: z.string().optional(),
  regionCode: z.string().optional(),
});
export type ProductPurchase = z.infer<typeof productPurchaseSchema>;

export class GooglePlayError extends Error {
  override name = 'GooglePlayError';
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
  /** Google says the token does not exist (or not for this app/product): the client sent a bad one. */
  get notFound(): boolean {
    return this.status === 400 || this.status === 404 || this.status === 410;
  }
}

/**
 * The two Android Publisher calls a consumable purchase needs: `purchases.products.get` to check a
 * purchase token, `purchases.products.consume` once its coins are credited. Authenticated with the
 * service account's OAuth2 token; one retry with a fresh token when Google answers 401.
 */
export class GooglePlayClient {
  private readonly options: {
    packageName: string;
    tokens: ServiceAccountTokenSource;
    baseUrl?: string;
    fetch?: typeof fetch;
  };

  constructor(options: GooglePlayClient['options']) {
    this.options = options;
  }

  get packageName(): string {
    return this.options.packageName;
  }

  async getProductPurchase(productId: string, purchaseToken: string): Promise<ProductPurchase> {
    const response = await this.call('GET', this.url(productId, purchaseToken, ''));
    const parsed = productPurchaseSchema.safeParse(await response.json());
    if (!parsed.success) throw new GooglePlayError('unexpected purchases.products.get answer', 502);
    return parsed.data;
  }

  async consumeProductPurchase(productId: string, purchaseToken: string): Promise<void> {
    await this.call('POST', this.url(productId, purchaseToken, ':consume'));
  }

  private url(productId: string, purchaseToken: string, suffix: string): string {
    const base = (this.options.baseUrl ?? GOOGLE_PLAY_API_URL).replace(/\/$/, '');
    const p = encodeURIComponent;
    return `${base}/androidpublisher/v3/applications/${p(this.options.packageName)}/purchases/products/${p(productId)}/tokens/${p(purchaseToken)}${suffix}`;
  }

  private async call(method: 'GET' | 'POST', url: string): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      const token = await this.options.tokens.accessToken();
      const response = await (this.options.fetch ?? fetch)(url, {
        method,
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
        signal: AbortSignal.timeout(15_000),
      });
      if (response.status === 401 && attempt === 1) {
        this.options.tokens.invalidate();
        continue;
      }
      if (!response.ok) throw new GooglePlayError(`Google Play answered ${response.status}`, response.status);
      return response;
    }
  }
}
