import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import type { TestApp } from '../../../test/app.ts';
import { gql } from '../../../test/graphql-client.ts';
import type { Role } from '../../platform/auth/roles.ts';
import { adminActor } from '../mission_control/money-report.testing.ts';
import type { AuthTokens } from '../user/session.service.ts';

export const FEED = `query($first: Int, $after: String) {
  galleryFeed(first: $first, after: $after) {
    scrollId nextCursor
    cards { userId displayName photoThumbnailUrl online onlineSince country languages }
  }
}`;

export type FeedCard = {
  userId: string;
  displayName: string | null;
  photoThumbnailUrl: string | null;
  online: boolean;
  onlineSince: string | null;
  country: string | null;
  languages: string[];
};
export type FeedPage = { scrollId: string; nextCursor: string | null; cards: FeedCard[] };

let photo: Buffer | undefined;
const photoBytes = async () => {
  photo ??= await sharp({ create: { width: 200, height: 200, channels: 3, background: '#c96' } })
    .jpeg()
    .toBuffer();
  return photo;
};

/** Accounts for feeds: signed in, with a profile and (unless `photo: false`) an approved photo. */
export class GalleryFixture {
  private readonly app: TestApp;
  private moderatorId: string | undefined;
  private readonly sockets = new Map<string, string>();

  constructor(app: TestApp) {
    this.app = app;
  }

  private get services() {
    return this.app.services;
  }

  private async moderator() {
    this.moderatorId ??= (await this.services.accounts.createOloAccount(['admin'])).id;
    return adminActor(this.moderatorId);
  }

  async account(
    roles: Role[],
    options: {
      photo?: boolean;
      name?: string;
      country?: string;
      languages?: string[];
      refresh?: boolean;
    } = {},
  ): Promise<AuthTokens> {
    const tokens = await this.app.signIn(roles);
    await this.services.profiles.update(tokens.userId, {
      displayName: options.name ?? `${roles.at(-1)}-${tokens.userId.slice(0, 6)}`,
      ...(options.country ? { country: options.country } : {}),
      ...(options.languages ? { languages: options.languages } : {}),
    });
    if (options.photo !== false) {
      const item = await this.services.media.upload(tokens.userId, 'photo', await photoBytes());
      await this.services.media.moderate(await this.moderator(), [item.id], 'approve', null);
    }
    // The consumers would do it within milliseconds; tests read the cards at once.
    if (options.refresh !== false) await this.services.gallery.refreshCards([tokens.userId]);
    return tokens;
  }

  async online(userId: string): Promise<void> {
    const connectionId = randomUUID();
    this.sockets.set(userId, connectionId);
    this.services.presence.connectionChanged({ type: 'opened', connectionId, userId });
    await this.services.presence.settled();
    await this.services.gallery.refreshCards([userId]);
  }

  async offline(userId: string): Promise<void> {
    const connectionId = this.sockets.get(userId);
    if (!connectionId) return;
    this.sockets.delete(userId);
    this.services.presence.connectionChanged({ type: 'closed', connectionId, userId });
    await this.services.presence.settled();
    await this.services.gallery.refreshCards([userId]);
  }

  async ban(userId: string): Promise<void> {
    await this.services.moderation.ban(await this.moderator(), userId, 'test ban', null);
  }

  adminActor() {
    return this.moderator();
  }
}

/** One page over HTTP, failing on GraphQL errors. */
export async function feedPage(
  app: TestApp,
  token: string,
  first: number,
  after: string | null = null,
): Promise<FeedPage> {
  const response = await gql<{ galleryFeed: FeedPage }>(app.url, FEED, { first, after }, { token });
  if (!response.data?.galleryFeed) throw new Error(JSON.stringify(response.errors));
  return response.data.galleryFeed;
}

/** A whole scroll, page by page; `between` runs after each page (presence changes, blocks …). */
export async function scroll(
  app: TestApp,
  token: string,
  first: number,
  between: (pageIndex: number) => Promise<void> = async () => {},
): Promise<string[]> {
  const seen: string[] = [];
  let after: string | null = null;
  for (let i = 0; i < 1000; i++) {
    const page: FeedPage = await feedPage(app, token, first, after);
    seen.push(...page.cards.map((c) => c.userId));
    after = page.nextCursor;
    if (!after) return seen;
    await between(i);
  }
  throw new Error('the scroll did not end');
}
