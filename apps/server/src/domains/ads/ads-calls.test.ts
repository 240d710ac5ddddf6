import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { manualClock } from '../../platform/clock.ts';
import { waitFor } from '../timetable/testing.ts';
import { callPeople, VIDEO_TEST_ENV } from '../video/video.test-support.ts';

/** Calls become product events for the payer: started (first call flagged) and ended with duration. */
describe('call events reported to analytics', () => {
  const clock = manualClock(new Date('2031-09-01T09:00:00Z'));
  let app: TestApp;
  let people: ReturnType<typeof callPeople>;

  const sink = async (userId: string) =>
    (await app.services.ads.deliveryLog.listSinkEvents({ userId }, 50, undefined))
      .filter((e) => e.name.startsWith('call_'))
      .map((e) => ({ name: e.name, payload: e.payload as { properties: Record<string, unknown> } }))
      .reverse();

  beforeAll(async () => {
    app = await startTestApp({ clock, env: { ...VIDEO_TEST_ENV, ADS_EVENT_SINK: 'true' } });
    await app.services.jobs.start();
    people = callPeople(app);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('reports the connected calls of the payer, the first one flagged, and skips calls that never connected', async () => {
    const [user, streamer] = [await people.user(), await people.streamer()];
    const missed = await app.services.calls.request(user, streamer);
    await app.services.calls.hangUp(user, missed.id);
    for (const length of [70, 10]) {
      const call = await app.services.calls.request(user, streamer);
      await app.services.calls.accept(streamer, call.id);
      await people.connect(call.id, user, streamer);
      clock.advance(length * 1000);
      await app.services.billing.runDue(call.id);
      await app.services.callRooms.heartbeat(user, call.id);
      await app.services.calls.hangUp(streamer, call.id);
    }
    await waitFor('four call events in the sink', async () => (await sink(user)).length >= 4);
    const events = await sink(user);
    expect(
      events.map((e) => [e.name, e.payload.properties.firstCall, e.payload.properties.durationSeconds]),
    ).toEqual([
      ['call_started', true, undefined],
      ['call_ended', undefined, 70],
      ['call_started', false, undefined],
      ['call_ended', undefined, 10],
    ]);
    expect(events[1]?.payload.properties).toMatchObject({
      kind: 'direct',
      streamerId: streamer,
      coins: '120',
    });
    expect(await sink(streamer)).toEqual([]);
  });
});
