import { z } from 'zod';
import type { Clock } from '../../platform/clock.ts';
import type { SettingsService } from '../settings/settings.service.ts';
import type { AttributionRepository } from './attribution.repository.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Apphud's S2S webhook body: `{ app, event, user }` (docs.apphud.com/docs/webhook). */
export const apphudWebhookSchema = z
  .object({
    app: z.object({}).passthrough().optional(),
    event: z
      .object({
        id: z.string().min(1).max(200),
        name: z.string().min(1).max(200),
        created_at: z.string().optional(),
        receipt: z
          .object({
            product_id: z.string().nullable().optional(),
            environment: z.string().nullable().optional(),
          })
          .passthrough()
          .nullable()
          .optional(),
      })
      .passthrough(),
    user: z
      .object({ user_id: z.string().nullable().optional(), id: z.string().nullable().optional() })
      .passthrough()
      .optional(),
  })
  .passthrough();

/**
 * Records Apphud subscription events against the user (the app starts Apphud with our user id).
 * Subscriptions stay behind `feature.subscriptions_enabled`: while it is off an event is recorded with
 * `applied = false` and nothing else happens; the payment domain remains the source of entitlements.
 */
export class ApphudService {
  private readonly deps: { repo: AttributionRepository; settings: SettingsService; clock: Clock };

  constructor(deps: ApphudService['deps']) {
    this.deps = deps;
  }

  async record(body: z.infer<typeof apphudWebhookSchema>): Promise<'recorded' | 'duplicate'> {
    const customId = body.user?.user_id?.trim() ?? null;
    const userId = customId && UUID.test(customId) ? customId.toLowerCase() : null;
    const enabled = (await this.deps.settings.get('feature.subscriptions_enabled')) === true;
    const inserted = await this.deps.repo.recordApphudEvent({
      apphudEventId: body.event.id,
      name: body.event.name,
      userId,
      apphudUserId: body.user?.id ?? null,
      productId: body.event.receipt?.product_id ?? null,
      environment: body.event.receipt?.environment ?? null,
      applied: enabled && userId !== null,
      payload: body,
      at: this.deps.clock.now(),
    });
    return inserted ? 'recorded' : 'duplicate';
  }

  eventsOf(userId: string) {
    return this.deps.repo.apphudEventsOf(userId);
  }
}
