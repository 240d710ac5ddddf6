import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { gql } from '../../../test/graphql-client.ts';
import { manualClock } from '../../platform/clock.ts';
import { waitFor } from '../event_log/event-log.test-support.ts';
import { PROFILE_ERASURE_CONSUMER } from './profile.consumers.ts';
import { ageOn } from './profile.service.ts';

const UPDATE = `mutation($input: UpdateProfileInput!) { updateMyProfile(input: $input) {
  userId birthDate realName payoutDetails
  preferences { language notifyCalls notifyMessages notifyPromotions }
  onboarding { completed missingFields completedAt }
  public { displayName age gender country languages bio interests headline isStreamer }
} }`;
const MINE =
  'query { myProfile { birthDate public { bio } onboarding { completed missingFields completedAt } } }';

type Mine = {
  birthDate: string | null;
  bio: string | null;
  onboarding: { completed: boolean; missingFields: string[]; completedAt: string | null };
};

describe('profiles', () => {
  const clock = manualClock(new Date('2026-06-15T12:00:00Z'));
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ clock });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('computes whole years of age', () => {
    expect(ageOn('2008-06-15', '2026-06-15')).toBe(18);
    expect(ageOn('2008-06-16', '2026-06-15')).toBe(17);
    expect(ageOn('2008-07-01', '2026-06-15')).toBe(17);
    expect(ageOn('2000-02-29', '2026-02-28')).toBe(25);
  });

  it('refuses invalid input with BAD_USER_INPUT naming the field, and writes nothing', async () => {
    const { accessToken } = await app.signIn();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ displayName: 'A' }, 'displayName'],
      [{ displayName: 'x'.repeat(41) }, 'displayName'],
      [{ displayName: 'two\nlines' }, 'displayName'],
      [{ birthDate: '2008-06-16' }, 'birthDate'],
      [{ birthDate: '1990-02-30' }, 'birthDate'],
      [{ birthDate: '15.06.1990' }, 'birthDate'],
      [{ gender: 'robot' }, 'gender'],
      [{ country: 'XK' }, 'country'],
      [{ country: 'de' }, 'country'],
      [{ languages: ['en', 'de', 'fr', 'es', 'it', 'pt'] }, 'languages'],
      [{ languages: ['en', 'xx'] }, 'languages.1'],
      [{ languages: ['en', 'en'] }, 'languages'],
      [{ bio: 'b'.repeat(501) }, 'bio'],
      [{ interests: ['music', 'knitting'] }, 'interests.1'],
      [
        {
          interests: [
            'art',
            'books',
            'cars',
            'cooking',
            'dancing',
            'fashion',
            'fitness',
            'gaming',
            'movies',
            'music',
            'pets',
          ],
        },
        'interests',
      ],
      [{ payoutDetails: ['not', 'an', 'object'] }, 'payoutDetails'],
      [{ payoutDetails: 'iban' }, 'payoutDetails'],
      [{ preferences: { language: 'klingon' } }, 'preferences.language'],
      // A valid field beside an invalid one is not written either.
      [{ bio: 'kept out', country: 'ZZ' }, 'country'],
    ];
    for (const [input, field] of cases) {
      const response = await gql(app.url, UPDATE, { input }, { token: accessToken });
      expect(response.errors?.[0]?.extensions, JSON.stringify(input)).toEqual({
        code: 'BAD_USER_INPUT',
        field,
      });
    }
    const mine = await gql<{ myProfile: Mine }>(app.url, MINE, {}, { token: accessToken });
    expect(mine.data?.myProfile).toMatchObject({ birthDate: null, public: { bio: null } });
  });

  it('tracks onboarding, completes it once and emits onboarding_completed once', async () => {
    const { accessToken, userId } = await app.signIn();
    const fresh = await gql<{ myProfile: Mine }>(app.url, MINE, {}, { token: accessToken });
    expect(fresh.data?.myProfile.onboarding).toEqual({
      completed: false,
      missingFields: ['displayName', 'birthDate', 'gender', 'country'],
      completedAt: null,
    });

    const partial = await gql<{ updateMyProfile: { onboarding: Mine['onboarding'] } }>(
      app.url,
      UPDATE,
      { input: { displayName: 'Ada', birthDate: '2008-06-15' } },
      { token: accessToken },
    );
    expect(partial.data?.updateMyProfile.onboarding).toEqual({
      completed: false,
      missingFields: ['gender', 'country'],
      completedAt: null,
    });

    const done = await gql<{ updateMyProfile: Record<string, unknown> & { onboarding: Mine['onboarding'] } }>(
      app.url,
      UPDATE,
      {
        input: {
          gender: 'female',
          country: 'DE',
          languages: ['de', 'en'],
          interests: ['music', 'travel'],
          bio: '  Hello  ',
          realName: 'Ada Lovelace',
          payoutDetails: { iban: 'DE89370400440532013000' },
          preferences: { notifyPromotions: true, language: 'de' },
        },
      },
      { token: accessToken },
    );
    expect(done.errors).toBeUndefined();
    expect(done.data?.updateMyProfile).toMatchObject({
      birthDate: '2008-06-15',
      realName: 'Ada Lovelace',
      payoutDetails: { iban: 'DE89370400440532013000' },
      preferences: { language: 'de', notifyCalls: true, notifyMessages: true, notifyPromotions: true },
      onboarding: { completed: true, missingFields: [], completedAt: '2026-06-15T12:00:00.000Z' },
      public: {
        displayName: 'Ada',
        age: 18,
        gender: 'female',
        country: 'DE',
        languages: ['de', 'en'],
        bio: 'Hello',
        interests: ['music', 'travel'],
        headline: null,
        isStreamer: false,
      },
    });

    clock.advance(60_000);
    const again = await gql<{ updateMyProfile: { onboarding: Mine['onboarding'] } }>(
      app.url,
      UPDATE,
      { input: { displayName: 'Ada L.', bio: null } },
      { token: accessToken },
    );
    expect(again.data?.updateMyProfile.onboarding.completedAt).toBe('2026-06-15T12:00:00.000Z');
    const events = await app.services.eventLog.listEvents({ type: 'onboarding_completed', userId }, 10);
    expect(events.items.map((e) => e.payload)).toEqual([{ userId, country: 'DE' }]);

    const cleared = await gql(app.url, UPDATE, { input: { country: null } }, { token: accessToken });
    expect(cleared.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'country' });
  });

  it("shows the owner the account's email and phone from the user domain", async () => {
    const signUp = await gql<{ signUpWithEmail: { accessToken: string } }>(
      app.url,
      'mutation { signUpWithEmail(email: "owner@example.com", password: "a long enough password") { accessToken } }',
    );
    const token = signUp.data?.signUpWithEmail.accessToken;
    const mine = await gql(app.url, 'query { myProfile { email phone } }', {}, { token });
    expect(mine.data).toEqual({ myProfile: { email: 'owner@example.com', phone: null } });
  });

  it('serves public profiles to signed-in accounts only, NOT_FOUND for unknown accounts', async () => {
    const streamer = await app.signIn(['streamer']);
    await gql(
      app.url,
      UPDATE,
      { input: { displayName: 'Star', headline: 'Chess and chat' } },
      { token: streamer.accessToken },
    );
    const viewer = await app.signIn();
    const query = 'query($id: ID!) { profile(userId: $id) { displayName headline isStreamer age } }';
    const seen = await gql(app.url, query, { id: streamer.userId }, { token: viewer.accessToken });
    expect(seen.data).toEqual({
      profile: { displayName: 'Star', headline: 'Chess and chat', isStreamer: true, age: null },
    });
    const anonymous = await gql(app.url, query, { id: streamer.userId });
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const unknown = await gql(
      app.url,
      query,
      { id: '00000000-0000-4000-8000-000000000000' },
      { token: viewer.accessToken },
    );
    expect(unknown.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const malformed = await gql(app.url, query, { id: 'nope' }, { token: viewer.accessToken });
    expect(malformed.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'userId' });
  });

  it('records every staff read of a private profile in the audit log', async () => {
    const subject = await app.signIn();
    const moderator = await app.signIn(['moderator']);
    const response = await gql(
      app.url,
      'query($id: ID!) { adminUserProfile(userId: $id) { userId } }',
      { id: subject.userId },
      { token: moderator.accessToken },
    );
    expect(response.errors).toBeUndefined();
    const audit = await app.services.audit.list(
      { action: 'profile.viewed_private', targetId: subject.userId },
      10,
      undefined,
    );
    expect(audit.map((a) => [a.actorId, a.actorRole, a.targetType])).toEqual([
      [moderator.userId, 'moderator', 'user'],
    ]);
  });

  it('erases the profile when the account is deleted', async () => {
    const { accessToken, userId } = await app.signIn();
    await gql(
      app.url,
      UPDATE,
      { input: { displayName: 'Gone', birthDate: '1990-01-01', realName: 'Real Name' } },
      { token: accessToken },
    );
    expect(await app.services.profiles.mine(userId)).toMatchObject({ realName: 'Real Name' });
    await app.services.accountDeletion.deleteAccount(userId, 'DELETE');
    // The consumer runs in this process; drain only hurries it along.
    await waitFor(async () => {
      await app.services.eventLog.drain(PROFILE_ERASURE_CONSUMER);
      const rows = await app.database.handle.db
        .selectFrom('profile.profiles')
        .select('user_id')
        .where('user_id', '=', userId)
        .execute();
      return rows.length === 0;
    }, 'the profile to be erased');
  });
});
