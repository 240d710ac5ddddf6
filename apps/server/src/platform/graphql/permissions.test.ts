import SchemaBuilder from '@pothos/core';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { isObjectType } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { gql } from '../../../test/graphql-client.ts';
import { buildSchema, findPermissionGaps } from './schema.ts';

describe('permissions are declared on every operation', () => {
  it('the whole schema has no field without a rule', () => {
    expect(findPermissionGaps(buildSchema())).toEqual([]);
  });

  it('the walk finds an operation that declares no rule', () => {
    const probe = new SchemaBuilder<{ AuthScopes: { public: boolean } }>({
      plugins: [ScopeAuthPlugin],
      scopeAuth: { authScopes: () => ({ public: true }) },
    });
    probe.queryType({
      fields: (t) => ({
        declared: t.string({ authScopes: { public: true }, resolve: () => 'ok' }),
        forgotten: t.string({ resolve: () => 'leak' }),
      }),
    });
    expect(findPermissionGaps(probe.toSchema())).toEqual([{ type: 'Query', field: 'forgotten' }]);
  });

  it('every root field declares exactly which scope it needs', () => {
    const schema = buildSchema();
    const rules: Record<string, unknown> = {};
    for (const root of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
      if (!root || !isObjectType(root)) continue;
      for (const field of Object.values(root.getFields())) {
        const options = field.extensions?.pothosOptions as { authScopes?: unknown } | undefined;
        rules[`${root.name}.${field.name}`] = options?.authScopes;
      }
    }
    // A new operation must be added here on purpose, with the rule a reviewer expects.
    expect(rules).toEqual({
      'Query.me': { signedIn: true },
      'Query.call': { signedIn: true },
      'Query.myActiveCall': { signedIn: true },
      'Query.myCalls': { signedIn: true },
      'Query.adminCalls': { role: ['moderator', 'admin'] },
      'Query.adminCall': { role: ['moderator', 'admin'] },
      'Query.adminCallTransitions': { role: ['moderator', 'admin'] },
      'Query.videoProviders': { role: ['moderator', 'admin'] },
      'Mutation.requestCall': { signedIn: true },
      'Mutation.markCallRinging': { signedIn: true },
      'Mutation.acceptCall': { signedIn: true },
      'Mutation.hangUpCall': { signedIn: true },
      'Mutation.confirmCallMedia': { signedIn: true },
      'Mutation.callHeartbeat': { signedIn: true },
      'Mutation.reportCallMediaFailure': { signedIn: true },
      'Mutation.renewCallConnection': { signedIn: true },
      'Mutation.sendCallSignal': { signedIn: true },
      'Mutation.adminEndCall': { role: ['moderator', 'admin'] },
      'Mutation.adminCheckVideoProviders': { role: ['admin'] },
      'Subscription.myCallUpdates': { signedIn: true },
      'Subscription.chatUpdates': { signedIn: true },
      'Query.cohorts': { role: ['moderator', 'admin'] },
      'Query.cohort': { role: ['moderator', 'admin'] },
      'Query.previewCohort': { role: ['moderator', 'admin'] },
      'Query.userPanelTags': { role: ['moderator', 'admin'] },
      'Mutation.createCohort': { role: ['admin'] },
      'Mutation.updateCohort': { role: ['admin'] },
      'Mutation.deleteCohort': { role: ['admin'] },
      'Mutation.addCohortMembers': { role: ['admin'] },
      'Mutation.removeCohortMembers': { role: ['admin'] },
      'Mutation.setUserTags': { role: ['admin'] },
      'Query.prerecordedOffer': { signedIn: true },
      'Query.myPrerecordedOffers': { role: ['streamer'] },
      'Query.prerecordedPlayback': { signedIn: true },
      'Mutation.createPrerecordedOffer': { role: ['streamer'] },
      'Mutation.withdrawPrerecordedOffer': { role: ['streamer'] },
      'Mutation.startPrerecorded': { signedIn: true },
      'Mutation.stopPrerecorded': { signedIn: true },
      'Query.serverInfo': { public: true },
      'Mutation.requestPhoneCode': { public: true },
      'Mutation.signInWithPhone': { public: true },
      'Mutation.signUpWithEmail': { public: true },
      'Mutation.signInWithEmail': { public: true },
      'Mutation.refreshSession': { public: true },
      'Mutation.signOut': { signedIn: true },
      'Mutation.rotateSigningKey': { role: ['admin'] },
      'Subscription.serverClock': { signedIn: true },
      'Query.events': { role: ['admin'] },
      'Query.eventConsumers': { role: ['admin'] },
      'Query.deadLetters': { role: ['admin'] },
      'Mutation.retryDeadLetter': { role: ['admin'] },
      'Mutation.resumeEventConsumer': { role: ['admin'] },
      'Query.cronTasks': { role: ['admin'] },
      'Query.cronTaskHandlers': { role: ['admin'] },
      'Query.cronTaskRuns': { role: ['admin'] },
      'Mutation.upsertCronTask': { role: ['admin'] },
      'Mutation.setCronTaskEnabled': { role: ['admin'] },
      'Mutation.deleteCronTask': { role: ['admin'] },
      'Mutation.runCronTaskNow': { role: ['admin'] },
      'Subscription.accountEvents': { signedIn: true },
      'Subscription.announcements': { signedIn: true },
      'Mutation.publishAnnouncement': { role: ['admin'] },
      'Query.myNotifications': { signedIn: true },
      'Query.myUnreadNotificationCount': { signedIn: true },
      'Query.myNotificationPreferences': { signedIn: true },
      'Query.notificationKinds': { signedIn: true },
      'Query.notificationDeliveryLog': { role: ['moderator', 'admin'] },
      'Query.notificationDeliveryLogs': { role: ['admin'] },
      'Query.pushOutbox': { role: ['admin'] },
      'Query.previewNotificationBroadcast': { role: ['admin'] },
      'Mutation.acknowledgeNotification': { signedIn: true },
      'Mutation.markNotificationsRead': { signedIn: true },
      'Mutation.markAllNotificationsRead': { signedIn: true },
      'Mutation.setNotificationPreferences': { signedIn: true },
      'Mutation.broadcastNotification': { role: ['admin'] },
      'Subscription.notifications': { signedIn: true },
      'Query.auditLog': { role: ['admin'] },
      'Query.myMedia': { signedIn: true },
      'Query.mediaUrl': { signedIn: true },
      'Query.mediaModerationQueue': { role: ['moderator', 'admin'] },
      'Mutation.moderateMedia': { role: ['moderator', 'admin'] },
      'Query.myKyc': { signedIn: true },
      'Query.kycQueue': { role: ['moderator', 'admin'] },
      'Mutation.submitKyc': { role: ['streamer'] },
      'Mutation.reviewKyc': { role: ['moderator', 'admin'] },
      'Query.myTrackingConsent': { signedIn: true },
      'Query.adAttribution': { role: ['admin'] },
      'Query.adAttributedUsers': { role: ['admin'] },
      'Query.adDeliveries': { role: ['admin'] },
      'Query.adDeliveryStats': { role: ['admin'] },
      'Query.adDailyReport': { role: ['admin'] },
      'Query.adSinkEvents': { role: ['admin'] },
      'Mutation.reportAttribution': { signedIn: true },
      'Mutation.setTrackingConsent': { signedIn: true },
      'Query.tariffs': { role: ['admin'] },
      'Query.tariffVersions': { role: ['admin'] },
      'Query.tariffPreview': { signedIn: true },
      'Query.callBilling': { role: ['admin'] },
      'Mutation.setTariff': { role: ['admin'] },
      'Query.myWallet': { signedIn: true },
      'Query.myBalanceHistory': { signedIn: true },
      'Query.adminWallet': { role: ['moderator', 'admin'] },
      'Query.adminLedgerPostings': { role: ['moderator', 'admin'] },
      'Query.ledgerAccountBalance': { role: ['admin'] },
      'Mutation.adjustBalance': { role: ['moderator', 'admin'] },
      'Subscription.balanceEvents': { signedIn: true },
      'Query.mySessions': { signedIn: true },
      'Query.exportMyData': { signedIn: true },
      'Mutation.revokeSession': { signedIn: true },
      'Mutation.registerPushToken': { signedIn: true },
      'Mutation.unregisterPushToken': { signedIn: true },
      'Mutation.deleteMyAccount': { signedIn: true },
      'Query.adminUsers': { role: ['moderator', 'admin'] },
      'Query.adminUser': { role: ['moderator', 'admin'] },
      'Mutation.setUserRoles': { role: ['admin'] },
      'Mutation.banUser': { role: ['moderator', 'admin'] },
      'Mutation.unbanUser': { role: ['moderator', 'admin'] },
      'Query.profile': { signedIn: true },
      'Query.myProfile': { signedIn: true },
      'Query.adminUserProfile': { role: ['moderator', 'admin'] },
      'Mutation.updateMyProfile': { signedIn: true },
      'Query.settings': { public: true },
      'Query.settingHistory': { role: ['admin'] },
      'Mutation.setSetting': { role: ['admin'] },
      'Query.presence': { signedIn: true },
      'Mutation.setMyAvailability': { role: ['streamer'] },
      'Subscription.presenceChanged': { signedIn: true },
      'Query.agencies': { role: ['admin'] },
      'Query.agency': { role: ['admin'] },
      'Query.agencyReport': { role: ['admin'] },
      'Query.myAgency': { signedIn: true },
      'Mutation.createAgency': { role: ['admin'] },
      'Mutation.updateAgency': { role: ['admin'] },
      'Mutation.assignStreamerToAgency': { role: ['admin'] },
      'Mutation.removeStreamerFromAgency': { role: ['admin'] },
      'Mutation.addAgencyManager': { role: ['admin'] },
      'Mutation.removeAgencyManager': { role: ['admin'] },
      'Query.myEarnings': { signedIn: true },
      'Query.myPayouts': { signedIn: true },
      'Query.myAgencyPayouts': { signedIn: true },
      'Query.payoutRequests': { role: ['admin'] },
      'Mutation.requestPayout': { role: ['streamer'] },
      'Mutation.requestAgencyPayout': { signedIn: true },
      'Mutation.approvePayout': { role: ['admin'] },
      'Mutation.rejectPayout': { role: ['admin'] },
      'Mutation.markPayoutPaid': { role: ['admin'] },
      'Query.moneyReport': { role: ['admin'] },
      'Query.giftCatalogue': { public: true },
      'Query.adminGifts': { role: ['admin'] },
      'Mutation.createGift': { role: ['admin'] },
      'Mutation.updateGift': { role: ['admin'] },
      'Mutation.sendGift': { signedIn: true },
      'Query.myFavorites': { signedIn: true },
      'Query.myFollowers': { signedIn: true },
      'Query.followerCount': { signedIn: true },
      'Query.isFavorite': { signedIn: true },
      'Query.adminFollowerCounts': { role: ['moderator', 'admin'] },
      'Mutation.addFavorite': { signedIn: true },
      'Mutation.removeFavorite': { signedIn: true },
      'Query.adminInteractions': { role: ['moderator', 'admin'] },
      'Mutation.recordProfileView': { signedIn: true },
      'Query.myConversations': { signedIn: true },
      'Query.chatMessages': { signedIn: true },
      'Query.chatUnreadTotal': { signedIn: true },
      'Mutation.sendChatMessage': { signedIn: true },
      'Mutation.markChatRead': { signedIn: true },
      'Query.galleryFeed': { signedIn: true },
      'Query.galleryRules': { role: ['moderator', 'admin'] },
      'Mutation.updateGalleryRules': { role: ['admin'] },
      'Mutation.setGalleryHidden': { role: ['moderator', 'admin'] },
      'Subscription.galleryFeedChanged': { signedIn: true },
      'Query.myBlocks': { signedIn: true },
      'Query.blockReports': { role: ['moderator', 'admin'] },
      'Query.blocklistFlags': { role: ['moderator', 'admin'] },
      'Query.blocklistStats': { role: ['moderator', 'admin'] },
      'Mutation.blockUser': { signedIn: true },
      'Mutation.unblockUser': { signedIn: true },
      'Mutation.actOnBlockReport': { role: ['moderator', 'admin'] },
      'Mutation.resolveBlocklistFlag': { role: ['moderator', 'admin'] },
      'Query.coinProducts': { public: true },
      'Query.myPurchases': { signedIn: true },
      'Query.adminCoinProducts': { role: ['admin'] },
      'Query.adminPurchases': { role: ['moderator', 'admin'] },
      'Mutation.verifyApplePurchase': { signedIn: true },
      'Mutation.verifyGooglePurchase': { signedIn: true },
      'Mutation.sandboxPurchase': { signedIn: true },
      'Mutation.createCoinProduct': { role: ['admin'] },
      'Mutation.updateCoinProduct': { role: ['admin'] },
      'Query.myRouletteStatus': { signedIn: true },
      'Mutation.joinRoulette': { signedIn: true },
      'Mutation.leaveRoulette': { signedIn: true },
      'Mutation.rouletteNext': { signedIn: true },
      'Mutation.rouletteHeartbeat': { signedIn: true },
    });
  });
});

describe('permissions are enforced', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('refuses signed-in operations to anonymous callers', async () => {
    for (const query of ['query { me { id } }', 'mutation { signOut }', 'mutation { rotateSigningKey }']) {
      const response = await gql(app.url, query);
      expect(response.errors?.[0]?.extensions?.code, query).toBe('UNAUTHENTICATED');
    }
  });

  it('refuses admin operations to every other role, allows them to admins', async () => {
    for (const role of ['user', 'streamer', 'moderator'] as const) {
      const tokens = await app.signIn([role]);
      const response = await gql(app.url, 'mutation { rotateSigningKey }', {}, { token: tokens.accessToken });
      expect(response.errors?.[0]?.extensions?.code, role).toBe('FORBIDDEN');
    }
    const admin = await app.signIn(['user', 'admin']);
    const asUser = await gql(
      app.url,
      'mutation { rotateSigningKey }',
      {},
      {
        token: admin.accessToken,
        headers: { 'x-hasura-role': 'user' },
      },
    );
    expect(asUser.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const rotated = await gql<{ rotateSigningKey: string }>(
      app.url,
      'mutation { rotateSigningKey }',
      {},
      {
        token: admin.accessToken,
      },
    );
    expect(rotated.errors).toBeUndefined();
    // Tokens signed before the rotation keep working; new ones carry the new key id.
    expect(
      (await gql(app.url, 'query { me { id } }', {}, { token: admin.accessToken })).errors,
    ).toBeUndefined();
    const fresh = await app.signIn();
    const header = JSON.parse(Buffer.from(fresh.accessToken.split('.')[0] as string, 'base64url').toString());
    expect(header.kid).toBe(rotated.data?.rotateSigningKey);
    const jwks = (await (await fetch(`${app.url}/.well-known/jwks.json`)).json()) as {
      keys: Array<{ kid: string }>;
    };
    expect(jwks.keys.map((k) => k.kid)).toContain(rotated.data?.rotateSigningKey);
    expect(jwks.keys.length).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(jwks)).not.toMatch(/"d":/);
  });
});
