import type { Clock } from '../../platform/clock.ts';
import { badInput } from '../../platform/errors/app-error.ts';
import type { PushTokenRow, UserRepository } from './user.repository.ts';
import type { PushKind, PushPlatform } from './user.tables.ts';

// FCM tokens run to ~200 characters and Web Push subscriptions (JSON) to under 1 KB; more is not a token.
const MAX_TOKEN_LENGTH = 4096;

/**
 * Push registration tokens, one per (kind, token) and device session. Delivery (FCM, OneSignal, APNs,
 * Web Push) is the notification domain's; it reports the tokens a provider rejected here.
 */
export class PushTokenService {
  private readonly repo: UserRepository;
  private readonly clock: Clock;

  constructor(repo: UserRepository, clock: Clock) {
    this.repo = repo;
    this.clock = clock;
  }

  async register(input: {
    userId: string;
    sessionId: string | null;
    platform: PushPlatform;
    kind: PushKind;
    token: string;
  }): Promise<PushTokenRow> {
    const token = input.token.trim();
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH)
      throw badInput(`token must be 1 to ${MAX_TOKEN_LENGTH} characters`, { field: 'token' });
    return this.repo.upsertPushToken({ ...input, token, now: this.clock.now() });
  }

  /** True when the caller had this token. */
  async unregister(userId: string, kind: PushKind, token: string): Promise<boolean> {
    return this.repo.deletePushToken(userId, kind, token.trim());
  }

  /** For providers: forget tokens the vendor reported as unregistered or invalid. Returns how many went. */
  async removeInvalid(kind: PushKind, tokens: readonly string[]): Promise<number> {
    return this.repo.deletePushTokens(kind, tokens);
  }

  async list(userId: string): Promise<PushTokenRow[]> {
    return this.repo.listPushTokens(userId);
  }
}
