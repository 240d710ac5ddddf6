import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { manualClock } from '../../platform/clock.ts';
import { waitFor } from '../timetable/testing.ts';
import { callPeople, VIDEO_TEST_ENV } from '../video/video.test-support.ts';
import { NOTIFICATION_EVENTS_CONSUMER } from './notification.consumers.ts';

/** Calls reach the callee as notifications: the ring, then a missed or cancelled call. */
describe('call notifications from the video domain', () => {
  const clock = manualClock(new Date('2031-08-01T09:00:00Z'));
  let app: TestApp;
  let people: ReturnType<typeof callPeople>;

  const centre = async (userId: string) =>
    (await app.services.notifications.service.list(userId, 100)).items
      .map((n) => ({ kind: n.kind, body: n.body, data: n.data }))
      .reverse();
  const received = async (userId: string, count: number) => {
    await waitFor(`${count} notifications`, async () => (await centre(userId)).length >= count);
    return centre(userId);
  };

  beforeAll(async () => {
    app = await startTestApp({ clock, env: VIDEO_TEST_ENV });
    await app.services.jobs.start();
    people = callPeople(app);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('rings the callee, then tells them of the missed call; the caller gets nothing', async () => {
    const [user, streamer] = [await people.user(), await people.streamer()];
    await app.services.profiles.update(user, { displayName: 'Ana' });
    const call = await app.services.calls.request(user, streamer);
    clock.advance(31_000);
    await app.services.calls.runDeadline(call.id);
    const got = await received(streamer, 2);
    expect(got.map((n) => [n.kind, n.body])).toEqual([
      ['incoming_call', 'Ana is calling you'],
      ['missed_call', 'You missed a call from Ana'],
    ]);
    expect(got[0]?.data).toMatchObject({ callId: call.id, callerId: user, kind: 'direct' });
    expect(await centre(user)).toEqual([]);
  });

  it('tells the callee the caller hung up before the answer, and nothing after an answered call', async () => {
    const [user, streamer] = [await people.user(), await people.streamer()];
    const cancelled = await app.services.calls.request(user, streamer);
    await app.services.calls.hangUp(user, cancelled.id);
    expect((await received(streamer, 2)).map((n) => n.kind)).toEqual(['incoming_call', 'call_cancelled']);

    const answered = await app.services.calls.request(user, streamer);
    await app.services.calls.accept(streamer, answered.id);
    await app.services.calls.hangUp(user, answered.id);
    await received(streamer, 3);
    // Once the notification consumer has caught up with every event, the ending made nothing more.
    await waitFor('the notification consumer to catch up', async () => {
      const consumers = await app.services.eventLog.listConsumers();
      return consumers.find((c) => c.name === NOTIFICATION_EVENTS_CONSUMER)?.lag === 0n;
    });
    expect((await centre(streamer)).map((n) => n.kind)).toEqual([
      'incoming_call',
      'call_cancelled',
      'incoming_call',
    ]);
  });
});
