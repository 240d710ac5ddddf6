import { EventCatalogue } from './domains/event_log/event-catalogue.ts';
import { registerEventLogJobs } from './domains/event_log/event-log.jobs.ts';
import { EventLog } from './domains/event_log/event-log.service.ts';
import { AuditLog } from './domains/mission_control/audit-log.ts';
import { domainEvents } from './domains/registry.ts';
import { createTimetable } from './domains/timetable/timetable.ts';
import { AccountService } from './domains/user/account.service.ts';
import { SessionService } from './domains/user/session.service.ts';
import { SignInService } from './domains/user/sign-in.service.ts';
import { accountVisibleEvents } from './domains/user/user.events.ts';
import { UserRepository } from './domains/user/user.repository.ts';
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
  registerAccountEventsFanout(eventLog, pubsub, accountVisibleEvents);
  registerEventLogJobs(cron, eventLog);
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
  return {
    version: SERVER_VERSION,
    clock,
    signingKeys,
    tokens,
    authenticator: new Authenticator(tokens, accounts),
    accounts,
    sessions,
    signIn,
    userRepo,
    pubsub,
    eventLog,
    audit: new AuditLog(db),
    jobs,
    cron,
  };
}

export type Services = ReturnType<typeof createServices>;
