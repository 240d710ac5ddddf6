import { z } from 'zod';
import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db/database.ts';
import type { Logger } from '../../platform/observability/logger.ts';
import type { PubSub } from '../../platform/realtime/pubsub.ts';
import { createVideoProviders, type VideoConfig } from '../../providers/video/create-video-providers.ts';
import type { VideoProvider } from '../../providers/video/video.provider.ts';
import { billingCallCutOff } from '../billing/billing.events.ts';
import type { EventLog } from '../event_log/event-log.service.ts';
import type { AuditLog } from '../mission_control/audit-log.ts';
import type { SettingsService } from '../settings/settings.service.ts';
import type { CronService } from '../timetable/cron.service.ts';
import type { JobQueue } from '../timetable/job-queue.ts';
import { userBanned, userDeleted } from '../user/user.events.ts';
import { registerCallConsumers } from './call.consumers.ts';
import { CallRepository } from './call.repository.ts';
import { CallService } from './call.service.ts';
import { CALL_DEADLINE_JOB, type CallBilling, CallEngine, type Presence } from './call-engine.ts';
import { CallHistoryService } from './call-history.service.ts';
import { type BlockCheck, type CallParties, noBlocks } from './call-party.ts';
import { CallRoomService } from './call-room.service.ts';
import { PrerecordedRepository } from './prerecorded.repository.ts';
import {
  noStreamerAvailability,
  type PrerecordedMedia,
  PrerecordedService,
  type StreamerAvailability,
} from './prerecorded.service.ts';
import { ProviderHealthRepository } from './provider-health.repository.ts';
import { ProviderSelector } from './provider-selector.ts';
import { RouletteRepository } from './roulette.repository.ts';
import { noRouletteProfiles, type RouletteProfiles, RouletteService } from './roulette.service.ts';

export const VIDEO_SWEEP_TASK = 'video.sweep';
export const VIDEO_HEALTH_TASK = 'video.provider_health';
export const VIDEO_ROULETTE_TASK = 'video.roulette_match';
export const VIDEO_EVENTS_CONSUMER = 'video_call_terminations';

const deadlinePayload = z.object({ callId: z.uuid() });
const cutOffPayload = billingCallCutOff.payload;
const bannedPayload = userBanned.payload;
const deletedPayload = userDeleted.payload;

/**
 * Wires the video domain: providers in priority order behind the circuit breaker, the call engine
 * and service, the call timer job, the sweep and health-check cron tasks, and the consumers that end
 * calls on billing cut-offs, bans and deletions.
 */
export function createVideo(deps: {
  db: Db;
  config: VideoConfig;
  billing: CallBilling;
  presence: Presence;
  parties: CallParties;
  blocks?: BlockCheck;
  rouletteProfiles?: RouletteProfiles;
  media: PrerecordedMedia;
  streamerAvailability?: StreamerAvailability;
  eventLog: EventLog;
  audit: AuditLog;
  jobs: JobQueue;
  cron: CronService;
  settings: Pick<SettingsService, 'get'>;
  pubsub: PubSub;
  clock: Clock;
  logger: Logger;
  providers?: VideoProvider[];
}) {
  const logger = deps.logger.child({ component: 'video' });
  const providers = deps.providers ?? createVideoProviders(deps.config);
  const selector = new ProviderSelector({
    providers,
    repo: new ProviderHealthRepository(deps.db),
    settings: deps.settings,
    clock: deps.clock,
    logger,
  });
  const repo = new CallRepository(deps.db);
  const engine = new CallEngine({
    db: deps.db,
    repo,
    selector,
    billing: deps.billing,
    presence: deps.presence,
    eventLog: deps.eventLog,
    jobs: deps.jobs,
    settings: deps.settings,
    pubsub: deps.pubsub,
    clock: deps.clock,
    logger,
  });
  const blocks = deps.blocks ?? noBlocks;
  const calls = new CallService({ engine, parties: deps.parties, blocks });
  const roulette = new RouletteService({
    engine,
    calls,
    repo: new RouletteRepository(deps.db),
    parties: deps.parties,
    blocks,
    profiles: deps.rouletteProfiles ?? noRouletteProfiles,
  });
  const rooms = new CallRoomService(engine);
  const history = new CallHistoryService({ repo, engine, calls, audit: deps.audit });
  const prerecorded = new PrerecordedService({
    engine,
    rooms,
    repo: new PrerecordedRepository(deps.db),
    parties: deps.parties,
    blocks,
    media: deps.media,
    streamers: deps.streamerAvailability ?? noStreamerAvailability,
  });

  deps.jobs.registerTask(CALL_DEADLINE_JOB, async (payload) => {
    await calls.runDeadline(deadlinePayload.parse(payload).callId);
  });
  deps.cron.registerTask(
    VIDEO_SWEEP_TASK,
    async ({ log }) => {
      const overdue = await calls.sweep();
      if (overdue > 0) log.warn({ calls: overdue }, 'video: caught up calls whose timer job was late');
    },
    { defaultTask: { name: 'video-sweep', cron: '*/10 * * * * *', catchUp: false } },
  );
  deps.cron.registerTask(
    VIDEO_HEALTH_TASK,
    async () => {
      await selector.checkAll();
    },
    { defaultTask: { name: 'video-provider-health', cron: '*/30 * * * * *', catchUp: false } },
  );
  // Joins match at once; the tick drops silent entries and matches those whose preferences widened.
  deps.cron.registerTask(
    VIDEO_ROULETTE_TASK,
    async ({ log }) => {
      const { matched, dropped } = await roulette.matchRound();
      if (matched > 0 || dropped > 0) log.info({ matched, dropped }, 'video: roulette round');
    },
    { defaultTask: { name: 'video-roulette', cron: '*/2 * * * * *', catchUp: false } },
  );
  // Each ends the call in its own transaction (ending is idempotent), so a redelivery is harmless.
  deps.eventLog.registerConsumer({
    name: VIDEO_EVENTS_CONSUMER,
    types: [billingCallCutOff.type, userBanned.type, userDeleted.type],
    startFrom: 'now',
    onExhausted: 'stop',
    handler: async (event) => {
      if (event.type === billingCallCutOff.type) {
        await calls.terminate(cutOffPayload.parse(event.payload).callId, 'insufficient_funds');
      } else if (event.type === userBanned.type) {
        await calls.terminateCallOf(bannedPayload.parse(event.payload).userId, 'banned');
      } else if (event.type === userDeleted.type) {
        await calls.terminateCallOf(deletedPayload.parse(event.payload).userId, 'error');
      }
    },
  });
  registerCallConsumers(deps.eventLog, calls);
  return { calls, rooms, history, roulette, prerecorded, engine, selector, providers };
}

export type Video = ReturnType<typeof createVideo>;
