import { createAds } from './domains/ads/ads.module.ts';
import { balanceAccountVisibleEvents } from './domains/balance/balance.events.ts';
import { registerBalanceJobs } from './domains/balance/balance.jobs.ts';
import { BalanceAdminService } from './domains/balance/balance-admin.service.ts';
import type { EarningsSplit } from './domains/balance/earnings-split.ts';
import { LedgerRepository } from './domains/balance/ledger.repository.ts';
import { LedgerService } from './domains/balance/ledger.service.ts';
import { LedgerReports } from './domains/balance/ledger-reports.ts';
import { billingAccountVisibleEvents } from './domains/billing/billing.events.ts';
import { createBilling } from './domains/billing/billing.ts';
import { createBlocklist } from './domains/blocklist/blocklist.module.ts';
import { registerChatConsumers } from './domains/chat/chat.consumers.ts';
import { ChatRepository } from './domains/chat/chat.repository.ts';
import { ChatService } from './domains/chat/chat.service.ts';
import { EventCatalogue } from './domains/event_log/event-catalogue.ts';
import { registerEventLogJobs } from './domains/event_log/event-log.jobs.ts';
import { EventLog } from './domains/event_log/event-log.service.ts';
import { registerFavoritesConsumers } from './domains/favorites/favorites.consumers.ts';
import { FavoritesRepository } from './domains/favorites/favorites.repository.ts';
import { FavoritesService } from './domains/favorites/favorites.service.ts';
import { registerGalleryConsumers } from './domains/gallery/gallery.consumers.ts';
import { registerGalleryJobs } from './domains/gallery/gallery.jobs.ts';
import { GalleryRepository } from './domains/gallery/gallery.repository.ts';
import { GalleryService } from './domains/gallery/gallery.service.ts';
import { giftAccountVisibleEvents } from './domains/gift/gift.events.ts';
import { GiftRepository } from './domains/gift/gift.repository.ts';
import { GiftService } from './domains/gift/gift.service.ts';
import { registerInteractionConsumers } from './domains/interaction/interaction.consumers.ts';
import { registerInteractionJobs } from './domains/interaction/interaction.jobs.ts';
import { InteractionRepository } from './domains/interaction/interaction.repository.ts';
import { InteractionService } from './domains/interaction/interaction.service.ts';
import { registerKycConsumers } from './domains/kyc/kyc.consumers.ts';
import { kycAccountVisibleEvents } from './domains/kyc/kyc.events.ts';
import { KycRepository } from './domains/kyc/kyc.repository.ts';
import { KycService } from './domains/kyc/kyc.service.ts';
import { registerMediaConsumers } from './domains/media/media.consumers.ts';
import { mediaAccountVisibleEvents } from './domains/media/media.events.ts';
import { MediaRepository } from './domains/media/media.repository.ts';
import { MediaService } from './domains/media/media.service.ts';
import { MediaUrlSigner } from './domains/media/media-url-signer.ts';
import { AgencyRepository } from './domains/mission_control/agency.repository.ts';
import { AgencyService } from './domains/mission_control/agency.service.ts';
import { AuditLog } from './domains/mission_control/audit-log.ts';
import { MoneyReportService } from './domains/mission_control/money-report.service.ts';
import { payoutAccountVisibleEvents } from './domains/mission_control/payout.events.ts';
import { PayoutRepository } from './domains/mission_control/payout.repository.ts';
import { PayoutService } from './domains/mission_control/payout.service.ts';
import { createNotifications } from './domains/notification/notification.ts';
import { createPanel } from './domains/panel/panel.ts';
import { paymentAccountVisibleEvents } from './domains/payment/payment.events.ts';
import { createPayments } from './domains/payment/payment.module.ts';
import { registerProfileConsumers } from './domains/profile/profile.consumers.ts';
import { ProfileRepository } from './domains/profile/profile.repository.ts';
import { ProfileService } from './domains/profile/profile.service.ts';
import { domainEvents } from './domains/registry.ts';
import { SettingsRepository } from './domains/settings/settings.repository.ts';
import { SettingsService } from './domains/settings/settings.service.ts';
import { createTimetable } from './domains/timetable/timetable.ts';
import { AccountService } from './domains/user/account.service.ts';
import { AccountDeletionService } from './domains/user/account-deletion.service.ts';
import { accountStatus, ModerationService } from './domains/user/moderation.service.ts';
import { MAX_WATCHED_USERS } from './domains/user/presence/presence.service.ts';
import { createPresence } from './domains/user/presence/presence.ts';
import { PushTokenService } from './domains/user/push-tokens.service.ts';
import { SessionService } from './domains/user/session.service.ts';
import { SignInService } from './domains/user/sign-in.service.ts';
import { accountVisibleEvents } from './domains/user/user.events.ts';
import { UserRepository } from './domains/user/user.repository.ts';
import { createVideo } from './domains/video/video.module.ts';
import { Authenticator } from './platform/auth/principal.ts';
import { SigningKeyStore } from './platform/auth/signing-keys.ts';
import { TokenService } from './platform/auth/tokens.ts';
import type { Clock } from './platform/clock.ts';
import type { Config } from './platform/config/config.ts';
import type { Db } from './platform/db/database.ts';
import type { Logger } from './platform/observability/logger.ts';
import { registerAccountEventsFanout } from './platform/realtime/account-events.consumer.ts';
import { channels, type PubSub } from './platform/realtime/pubsub.ts';
import { createLocalSmsProvider } from './providers/sms/local-sms.provider.ts';
import { createStorage } from './providers/storage/create-storage.ts';

export const SERVER_VERSION = '0.1.0';

/** Wires every service once per process. Resolvers reach them through the GraphQL context. */
export function createServices(deps: {
  db: Db;
  config: Config;
  clock: Clock;
  logger: Logger;
  pubsub: PubSub;
  /** For the event log's LISTEN connection, which cannot come from the pool. */
  databaseUrl: string;
}) {
  const { db, config, clock, logger, pubsub } = deps;
  const signingKeys = new SigningKeyStore(
    db,
    clock,
    config.auth.accessTokenTtlSeconds,
    config.auth.signingKeySecret,
  );
  const tokens = new TokenService(
    {
      olo: { issuer: config.auth.issuer, audience: config.auth.audience, keys: signingKeys },
      ...(config.auth.firebase ? { firebase: config.auth.firebase } : {}),
    },
    clock,
    config.auth.accessTokenTtlSeconds,
  );
  const eventLog = new EventLog({
    db,
    databaseUrl: deps.databaseUrl,
    catalogue: new EventCatalogue(domainEvents),
    clock,
    logger,
    settings: config.eventLog,
  });
  // First, so every domain below can register its jobs and cron handlers on it.
  const { jobs, cron } = createTimetable({ db, databaseUrl: deps.databaseUrl, config, clock, logger });
  const userRepo = new UserRepository(db);
  const accounts = new AccountService(userRepo, config.auth.issuer, clock, eventLog);
  const sessions = new SessionService({
    repo: userRepo,
    accounts,
    tokens,
    clock,
    refreshTtlSeconds: config.auth.refreshTokenTtlSeconds,
    onRevoked: (ids) => pubsub.publish(channels.sessionsRevoked, ids),
    events: eventLog,
  });
  registerAccountEventsFanout(eventLog, pubsub, [
    ...accountVisibleEvents,
    ...mediaAccountVisibleEvents,
    ...kycAccountVisibleEvents,
    ...balanceAccountVisibleEvents,
    ...billingAccountVisibleEvents,
    ...payoutAccountVisibleEvents,
    ...giftAccountVisibleEvents,
    ...paymentAccountVisibleEvents,
  ]);
  registerEventLogJobs(cron, eventLog);
  const presence = createPresence({ db, eventLog, cron, pubsub, clock, logger, settings: config.presence });
  const sms = createLocalSmsProvider((message) => userRepo.recordSms(message), logger);
  const signIn = new SignInService({
    repo: userRepo,
    accounts,
    sessions,
    sms,
    clock,
    throttle: config.auth.throttle,
    otpTtlSeconds: config.auth.otpTtlSeconds,
  });
  const audit = new AuditLog(db);
  const settings = new SettingsService({ repo: new SettingsRepository(db), audit, pubsub, clock, logger });
  const profileRepo = new ProfileRepository(db);
  registerProfileConsumers(eventLog, profileRepo);
  const profiles = new ProfileService({
    repo: profileRepo,
    accounts,
    // Email and phone stay the user domain's: read through its code on each private-profile read.
    contacts: {
      contactsOf: async (userId) => {
        const credentials = await userRepo.listCredentials(userId);
        return {
          email: credentials.find((c) => c.kind === 'email')?.identifier ?? null,
          phone: credentials.find((c) => c.kind === 'phone')?.identifier ?? null,
        };
      },
    },
    audit,
    events: eventLog,
    clock,
  });
  const storage = createStorage(config.media);
  const mediaRepo = new MediaRepository(db);
  registerMediaConsumers(eventLog, mediaRepo, storage);
  const media = new MediaService({
    db,
    repo: mediaRepo,
    storage,
    signer: new MediaUrlSigner(config.media.urlSecret),
    clock,
    eventLog,
    audit,
    publicUrl: config.publicUrl,
    maxImageBytes: config.media.maxImageBytes,
    maxVideoBytes: config.media.maxVideoBytes,
    urlTtlSeconds: config.media.urlTtlSeconds,
  });
  const kycRepo = new KycRepository(db);
  registerKycConsumers(eventLog, kycRepo, clock);
  const kyc = new KycService({ db, repo: kycRepo, media, audit, eventLog, clock });
  const ledger = new LedgerService({ db, repo: new LedgerRepository(), eventLog, settings, clock });
  registerBalanceJobs(cron, ledger);
  const ledgerReports = new LedgerReports(db);
  const agencies = new AgencyService({
    db,
    repo: new AgencyRepository(db),
    audit,
    clock,
    users: accounts,
    ledger: {
      earnings: (owner) => ledger.earnings(owner),
      earnedBetween: (windows) => ledgerReports.earnedBetween(windows),
    },
  });
  // Streamers in an agency share their earnings with it (AgencyService.earningsPostings).
  const earningsSplit: EarningsSplit = agencies.earningsSplit;
  const payouts = new PayoutService({
    db,
    repo: new PayoutRepository(db),
    ledger,
    kyc,
    agencies,
    settings,
    audit,
    eventLog,
    clock,
  });
  const gifts = new GiftService({
    db,
    repo: new GiftRepository(db),
    ledger,
    earningsSplit,
    settings,
    users: accounts,
    // Late-bound: the blocklist and video are built further down (they need services built after this).
    blocks: (a, b) => blocklist.isBlockedEitherWay(a, b),
    calls: { find: (callId) => video.calls.find(callId) },
    audit,
    eventLog,
    clock,
  });
  const favoritesRepo = new FavoritesRepository(db);
  registerFavoritesConsumers(eventLog, favoritesRepo);
  const favorites = new FavoritesService({
    db,
    repo: favoritesRepo,
    users: { findTarget: (id) => userRepo.findUser(id) },
    blocks: (a, b) => blocklist.isBlockedEitherWay(a, b),
    eventLog,
    clock,
  });
  const interactionRepo = new InteractionRepository(db);
  const knownEventTypes = new Set(domainEvents.map((d) => d.type));
  registerInteractionConsumers(eventLog, interactionRepo, (type) => knownEventTypes.has(type));
  const interactions = new InteractionService({
    db,
    repo: interactionRepo,
    users: {
      exists: async (id) => {
        const user = await userRepo.findUser(id);
        return user !== undefined && user.deletedAt === null;
      },
    },
    eventLog,
    clock,
    retentionDays: config.eventLog.retentionDays,
  });
  registerInteractionJobs(cron, interactions);
  const payments = createPayments({ db, config, clock, logger, ledger, settings, eventLog, audit });
  const moneyReport = new MoneyReportService(ledgerReports, payments);
  // Before billing: tariffs per cohort read the panel's cohort tags.
  const { cohorts } = createPanel({ db, eventLog, cron, audit, clock });
  const { billing, tariffs } = createBilling({
    db,
    cohortTags: (userId) => cohorts.tagsOf(userId),
    ledger,
    earningsSplit,
    eventLog,
    audit,
    jobs,
    cron,
    settings,
    clock,
    logger,
  });
  const ads = createAds({
    db,
    config: config.analytics,
    clock,
    logger,
    eventLog,
    jobs,
    cron,
    settings,
    contacts: async (userId) => {
      const credentials = await userRepo.listCredentials(userId);
      return {
        email: credentials.find((c) => c.kind === 'email')?.identifier ?? null,
        phone: credentials.find((c) => c.kind === 'phone')?.identifier ?? null,
      };
    },
  });
  const moderation = new ModerationService({
    repo: userRepo,
    accounts,
    audit,
    events: eventLog,
    clock,
    publish: (channel, userIds) => pubsub.publish(channels[channel], userIds),
  });
  const pushTokens = new PushTokenService(userRepo, clock);
  const notifications = createNotifications({
    db,
    config: config.push,
    jobs,
    cron,
    eventLog,
    pubsub,
    presence,
    pushTokens,
    settings,
    audit,
    clock,
    logger,
    social: {
      displayName: async (userId) => (await profiles.publicProfile(userId)).displayName,
      messageText: (messageId) => chat.messageText(messageId),
    },
  });
  // The platform's own rules ban as a moderator (so they never ban an admin), with the nil id as actor.
  const systemPrincipal = {
    userId: '00000000-0000-0000-0000-000000000000',
    role: 'moderator' as const,
    allowedRoles: ['moderator' as const],
    issuer: 'olo:blocklist',
    sessionId: undefined,
    tokenExpiresAt: new Date(8.64e15),
  };
  const { blocklist, moderation: blocklistModeration } = createBlocklist({
    db,
    users: { findTarget: (id) => userRepo.findUser(id) },
    settings,
    ledger,
    autoBan: async (userId, reason) => {
      await moderation.ban({ principal: systemPrincipal, requestId: null }, userId, reason, null);
    },
    staffBan: async (actor, userId, reason) => {
      if (!actor.principal) throw new Error('A staff ban needs a principal');
      await moderation.ban({ principal: actor.principal, requestId: actor.requestId }, userId, reason, null);
    },
    audit,
    eventLog,
    clock,
  });
  const video = createVideo({
    db,
    config: config.video,
    billing,
    presence,
    parties: {
      describe: async (userId) => {
        const user = await userRepo.findUser(userId);
        if (!user) return undefined;
        const profile = await profiles.publicProfile(userId);
        return { id: user.id, roles: user.roles, status: user.status, displayName: profile.displayName };
      },
    },
    rouletteProfiles: {
      profileOf: async (userId) => {
        const profile = await profiles.publicProfile(userId);
        return { languages: profile.languages, country: profile.country };
      },
    },
    media,
    blocks: (a, b) => blocklist.isBlockedEitherWay(a, b),
    streamerAvailability: {
      // No domain publishes "available streamers" yet: online active streamers (most recently online
      // first, as many as one presence read takes), then their availability.
      anyAvailable: async () => {
        const online = await userRepo.searchUsers({
          query: null,
          role: 'streamer',
          status: 'active',
          createdFrom: null,
          createdTo: null,
          name: null,
          country: null,
          online: true,
          mediaSource: null,
          campaign: null,
          sort: 'last_seen',
          ascending: false,
          after: null,
          limit: MAX_WATCHED_USERS,
          now: clock.now(),
        });
        if (online.length === 0) return false;
        const views = await presence.getPresence(online.map((r) => r.user.id));
        return views.some((v) => v.availability === 'available');
      },
    },
    eventLog,
    audit,
    jobs,
    cron,
    settings,
    pubsub,
    clock,
    logger,
  });
  const chatRepo = new ChatRepository(db);
  const chat = new ChatService({
    db,
    repo: chatRepo,
    eventLog,
    pubsub,
    settings,
    users: {
      getUser: async (id) => {
        const user = await accounts.getUser(id);
        return { id: user.id, roles: user.roles, status: accountStatus(user, clock.now()) };
      },
    },
    blocks: (a, b) => blocklist.isBlockedEitherWay(a, b),
    streamers: {
      // Active (not banned or deleted) streamers, online ones and the most recently seen first.
      candidates: async ({ onlineOnly, limit }) => {
        const rows = await userRepo.searchUsers({
          query: null,
          role: 'streamer',
          status: 'active',
          createdFrom: null,
          createdTo: null,
          name: null,
          country: null,
          online: onlineOnly ? true : null,
          mediaSource: null,
          campaign: null,
          sort: 'last_seen',
          ascending: false,
          after: null,
          limit,
          now: clock.now(),
        });
        return rows.map((r) => ({ id: r.user.id, online: r.user.listing?.online ?? false }));
      },
      languagesOf: async (userId) => (await profiles.publicProfile(userId)).languages,
    },
    clock,
  });
  registerChatConsumers(eventLog, chat);
  const galleryRepo = new GalleryRepository(db);
  registerGalleryConsumers(eventLog, galleryRepo);
  const gallery = new GalleryService({
    db,
    repo: galleryRepo,
    // The media domain signs the card thumbnails, checking the viewer may see the photo.
    photos: { thumbnailUrl: (principal, photoId) => media.urlFor(principal, photoId, '160') },
    audit,
    clock,
    logger,
  });
  registerGalleryJobs(cron, gallery);
  const accountDeletion = new AccountDeletionService({
    repo: userRepo,
    accounts,
    events: eventLog,
    clock,
    onSessionsEnded: (ids) => pubsub.publish(channels.sessionsRevoked, ids),
    onAccountChanged: (userId) => pubsub.publish(channels.accountsChanged, [userId]),
    // Each domain exports its own data through its service; the user domain only composes them.
    exporters: [
      { section: 'profile', exportFor: (userId) => profiles.exportFor(userId) },
      { section: 'media', exportFor: (userId) => media.exportFor(userId) },
      { section: 'kyc', exportFor: (userId) => kyc.exportFor(userId) },
      { section: 'balance', exportFor: (userId) => ledger.exportFor(userId) },
      { section: 'payments', exportFor: (userId) => payments.service.exportFor(userId) },
      { section: 'gifts', exportFor: (userId) => gifts.exportFor(userId) },
      { section: 'chat', exportFor: (userId) => chat.exportFor(userId) },
      { section: 'favorites', exportFor: (userId) => favorites.exportFor(userId) },
      { section: 'interactions', exportFor: (userId) => interactions.exportFor(userId) },
      { section: 'payouts', exportFor: (userId) => payouts.exportFor(userId) },
      { section: 'ads', exportFor: (userId) => ads.exportFor(userId) },
      { section: 'blocklist', exportFor: (userId) => blocklist.exportFor(userId) },
    ],
  });
  return {
    version: SERVER_VERSION,
    clock,
    signingKeys,
    tokens,
    authenticator: new Authenticator(tokens, accounts, clock),
    accounts,
    sessions,
    signIn,
    userRepo,
    pubsub,
    eventLog,
    audit,
    moderation,
    pushTokens,
    notifications,
    accountDeletion,
    settings,
    profiles,
    jobs,
    cron,
    presence,
    storage,
    media,
    kyc,
    ledger,
    ledgerReports,
    agencies,
    payouts,
    gifts,
    chat,
    favorites,
    interactions,
    gallery,
    moneyReport,
    balanceAdmin: new BalanceAdminService({ db, ledger, audit }),
    earningsSplit,
    billing,
    tariffs,
    cohorts,
    payments,
    ads,
    blocklist,
    blocklistModeration,
    video,
    calls: video.calls,
    callRooms: video.rooms,
    roulette: video.roulette,
    prerecorded: video.prerecorded,
  };
}

export type Services = ReturnType<typeof createServices>;
