/**
 * `node apps/server/bench/gallery.ts`: gallery feed pages per second and their latency. A fresh
 * PostgreSQL filled by SQL (generate_series) with BENCH_GALLERY_USERS (200,000) accounts, of which
 * BENCH_GALLERY_STREAMERS (20,000) streamers and BENCH_GALLERY_ONLINE (5,000) of them online, a few
 * blocks for about a third of the users and a fifth of the streamers, cohorts, profile views and
 * some bans; the real server as its own process. BENCH_GALLERY_CLIENTS (32) clients scroll: a first
 * page (which builds the scroll's snapshot) then four more, 30 cards each, over GraphQL; beside it the
 * same repository statements run straight on the database (the ceiling). Prints a Markdown report
 * and writes bench/results/gallery.md.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { buildApp } from '../src/app.ts';
import type { PageRead } from '../src/domains/gallery/gallery.queries.ts';
import { GalleryRepository } from '../src/domains/gallery/gallery.repository.ts';
import {
  DEFAULT_RULES,
  type GalleryRules,
  type GalleryViewerRole,
} from '../src/domains/gallery/gallery.rules.ts';
import { SCORING_WINDOW, SNAPSHOT_SIZE } from '../src/domains/gallery/gallery.service.ts';
import { adminActor } from '../src/domains/mission_control/money-report.testing.ts';
import { domainMigrations } from '../src/domains/registry.ts';
import { systemClock } from '../src/platform/clock.ts';
import { createDatabase } from '../src/platform/db/database.ts';
import { platformMigrations, readMigrations } from '../src/platform/db/migrator.ts';
import { testConfig } from '../test/app.ts';
import { startServerProcess } from '../test/server-process.ts';
import { describeDatabase, startBenchDatabase } from './bench-database.ts';
import { cleanupStack, integerFromEnv, percentile } from './bench-support.ts';
import { graphql } from './graphql-client.ts';

const RESULTS_FILE = path.join(import.meta.dirname, 'results', 'gallery.md');
const PAGE = 30;
const PAGES_PER_SCROLL = 5;
const FEED = `query($after: String) { galleryFeed(first: ${PAGE}, after: $after) {
  scrollId nextCursor cards { userId displayName photoThumbnailUrl online onlineSince country languages }
} }`;
const progress = (message: string) => process.stderr.write(`bench:gallery: ${message}\n`);

type Viewer = { id: string; token: string };
/** One scroll's page: fetches it and returns the next cursor (null at the end). */
type PageFetch = (viewer: Viewer, after: string | null) => Promise<string | null>;
type Row = {
  scenario: string;
  via: string;
  pages: number;
  perSecond: number;
  first: number[];
  next: number[];
  errors: number;
};

/** `clients` loops of scrolls (a first page, then PAGES_PER_SCROLL - 1 more) for `seconds` after a warm-up. */
async function measure(
  scenario: string,
  via: string,
  viewers: Viewer[],
  clients: number,
  seconds: number,
  fetchPage: PageFetch,
): Promise<Row> {
  const first: number[] = [];
  const next: number[] = [];
  let errors = 0;
  const warmUntil = performance.now() + 3_000;
  const stopAt = warmUntil + seconds * 1000;
  let measuredFrom = Number.NaN;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const viewer = viewers[c % viewers.length] as Viewer;
      while (performance.now() < stopAt) {
        let after: string | null = null;
        for (let p = 0; p < PAGES_PER_SCROLL && performance.now() < stopAt; p++) {
          const t0 = performance.now();
          try {
            after = await fetchPage(viewer, after);
          } catch (error) {
            errors++;
            if (errors <= 3)
              progress(`error: ${error instanceof Error ? error.message.slice(0, 300) : error}`);
            break;
          }
          const t1 = performance.now();
          if (t0 >= warmUntil && t1 <= stopAt) {
            if (Number.isNaN(measuredFrom)) measuredFrom = t0;
            (p === 0 ? first : next).push(t1 - t0);
          }
          if (!after) break;
        }
      }
    }),
  );
  first.sort((a, b) => a - b);
  next.sort((a, b) => a - b);
  const pages = first.length + next.length;
  return { scenario, via, pages, perSecond: pages / seconds, first, next, errors };
}

const { cleanups, cleanUp } = cleanupStack();

async function main(): Promise<number> {
  const users = integerFromEnv('BENCH_GALLERY_USERS', 200_000, 1000);
  const streamers = integerFromEnv('BENCH_GALLERY_STREAMERS', 20_000, 100);
  const online = integerFromEnv('BENCH_GALLERY_ONLINE', 5_000, 1);
  const clients = integerFromEnv('BENCH_GALLERY_CLIENTS', 32, 1);
  const seconds = integerFromEnv('BENCH_GALLERY_SECONDS', 15, 1);
  const poolMax = integerFromEnv('BENCH_GALLERY_POOL_MAX', 10, 1);
  try {
    progress('starting PostgreSQL');
    const database = await startBenchDatabase(process.env.BENCH_DATABASE_URL || undefined);
    cleanups.push(database.stop);
    const handle = createDatabase({ url: database.url, poolMax });
    cleanups.push(handle.close);
    const { db } = handle;

    progress(`inserting ${users} accounts (${streamers} streamers, ${online} online) by SQL`);
    const loadStarted = performance.now();
    await fill(db, users, streamers, online);
    const repo = new GalleryRepository(db);
    const rebuildStarted = performance.now();
    const rebuilt = await repo.refreshCards(db, null);
    const rebuildMs = performance.now() - rebuildStarted;
    // The bans happened "before": the read model learns them from user_banned events, here by SQL.
    await sql`update gallery.cards c set banned = true from "user".users u
      where u.id = c.user_id and u.banned_at is not null`.execute(db);
    await sql`analyze`.execute(db);
    progress(
      `data in ${Math.round((performance.now() - loadStarted) / 1000)} s; full rebuild ${Math.round(rebuildMs)} ms`,
    );

    const signingSecret = randomBytes(32).toString('base64url');
    const server = await startServerProcess({
      env: {
        NODE_ENV: 'production',
        AUTH_SIGNING_KEY_SECRET: signingSecret,
        MEDIA_URL_SECRET: randomBytes(32).toString('base64url'),
        DATABASE_URL: database.url,
        SEED_DEMO_DATA: 'false',
        LOG_LEVEL: 'warn',
        DATABASE_POOL_MAX: String(poolMax),
        RATE_LIMIT_PER_IP_PER_MINUTE: '10000000',
        RATE_LIMIT_PER_USER_PER_MINUTE: '10000000',
      },
      readyTimeoutMs: 120_000,
    });
    cleanups.push(() => server.stop('SIGTERM', 15_000));
    progress(`server ready (pid ${server.process.pid})`);

    // The server's own signing key and issuer: tokens made here are the server's tokens.
    const driver = await buildApp({
      config: testConfig({ PUBLIC_URL: server.url, AUTH_SIGNING_KEY_SECRET: signingSecret }),
      database: createDatabase({ url: database.url, poolMax: 4 }),
      migrations: await readMigrations([platformMigrations, ...domainMigrations]),
      clock: systemClock,
    });
    cleanups.push(driver.shutdown);
    const { services } = driver;
    // The 10-minute tasks over every account would land in some runs and not others.
    for (const task of ['gallery-rebuild-cards', 'recompute-cohorts']) {
      await services.cron.setEnabled(task, false).catch(() => {});
    }
    const viewersOf = async (role: GalleryViewerRole): Promise<Viewer[]> => {
      // Viewers with blocks of their own (a third of the users and a fifth of the streamers have some).
      const rows = await sql<{ id: string }>`
        select b.blocker_id as id from blocklist.blocks b join gallery.cards c on c.user_id = b.blocker_id
        where c.kind = ${role === 'user' ? 'user' : 'streamer'} and not c.banned
        group by b.blocker_id order by b.blocker_id limit ${clients}`.execute(db);
      return Promise.all(
        rows.rows.map(async ({ id }) => {
          const user = await services.userRepo.findUser(id);
          if (!user) throw new Error(`no account ${id}`);
          const tokens = await db
            .transaction()
            .execute((tx) =>
              services.sessions.open(tx, user, { deviceName: 'bench', userAgent: 'bench', ip: null }),
            );
          return { id, token: tokens.accessToken };
        }),
      );
    };
    const userViewers = await viewersOf('user');
    const streamerViewers = await viewersOf('streamer');

    const overGraphql: PageFetch = async (viewer, after) => {
      const data = await graphql(server.url, FEED, { token: viewer.token, variables: { after } });
      const page = data.galleryFeed as { nextCursor: string | null; cards: unknown[] };
      if (page.cards.length === 0) throw new Error('an empty page');
      return page.nextCursor;
    };
    // The same statements the service runs (snapshot, then pages with a half-page of slack), no server.
    const overSql =
      (role: GalleryViewerRole, rules: GalleryRules): PageFetch =>
      async (viewer, after) => {
        const window = (offset: number) => ({
          target: rules.target,
          onlineOnly: rules.filters.onlineOnly,
          from: offset + 1,
          to: offset + PAGE + PAGE / 2,
        });
        let sessionId: string;
        let read: PageRead | undefined;
        if (after === null) {
          sessionId = randomUUID();
          const now = new Date();
          read = await repo.createSnapshot(
            {
              id: sessionId,
              viewerId: viewer.id,
              viewerRole: role,
              rules,
              size: SNAPSHOT_SIZE,
              window: SCORING_WINDOW,
              now,
              expiresAt: new Date(now.getTime() + 1_800_000),
            },
            window(0),
          );
        } else {
          const [id, at] = after.split(':');
          sessionId = id as string;
          read = await repo.readPage(sessionId, viewer.id, window(Number(at)));
        }
        if (!read) throw new Error('the scroll is gone');
        const { length, rows } = read;
        const shown = rows.filter((r) => r.visible).slice(0, PAGE);
        const last = shown.at(-1);
        if (!last) throw new Error('an empty page');
        return Number(last.pos) < length ? `${sessionId}:${last.pos}` : null;
      };

    const boosted: GalleryRules = {
      ...DEFAULT_RULES.user,
      boosts: [
        { tag: 'top_streamers', weight: 20 },
        { tag: 'new_streamers', weight: 10 },
      ],
      seenPenalty: 15,
    };
    const rows: Row[] = [];
    const run = async (scenario: string, viewers: Viewer[], role: GalleryViewerRole, rules: GalleryRules) => {
      for (const [via, fetchPage] of [
        ['GraphQL', overGraphql],
        ['SQL only', overSql(role, rules)],
      ] as const) {
        await sql`truncate gallery.feed_sessions`.execute(db);
        progress(`${scenario} over ${via}: ${clients} clients for ${seconds} s`);
        rows.push(await measure(scenario, via, viewers, clients, seconds, fetchPage));
      }
    };
    await run('user → streamers, default rules', userViewers, 'user', DEFAULT_RULES.user);
    await run('streamer → users, default rules', streamerViewers, 'streamer', DEFAULT_RULES.streamer);
    await services.gallery.updateRules(
      adminActor(userViewers[0]?.id ?? randomUUID()),
      'user',
      boosted,
      'bench',
    );
    // The server process caches rules for up to 5 s.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    await run('user → streamers, 2 boosts + seen penalty', userViewers, 'user', boosted);
    const sessionBytes = await sql<{ bytes: string }>`
      select coalesce(avg(pg_column_size(ids)), 0)::bigint as bytes from gallery.feed_sessions`.execute(db);

    const ms = (value: number) => `${value.toFixed(1)} ms`;
    const cpus = os.cpus();
    const { version } = await describeDatabase(database.url);
    const all = (r: Row) => [...r.first, ...r.next].sort((a, b) => a - b);
    const report = [
      `### Gallery feed pages (${new Date().toISOString().slice(0, 10)})`,
      '',
      `\`BENCH_GALLERY_USERS=${users} BENCH_GALLERY_STREAMERS=${streamers} BENCH_GALLERY_ONLINE=${online} ` +
        `BENCH_GALLERY_CLIENTS=${clients} BENCH_GALLERY_SECONDS=${seconds} node apps/server/bench/gallery.ts\``,
      '',
      `${users} accounts (${streamers} streamers, ${online} of them online; ${Math.floor((users - streamers) / 30)} users online), ` +
        'one approved photo for 95 %, 0.5 % banned, about 3 blocks for a third of the users and 5 for a fifth ' +
        'of the streamers, two streamer cohorts and one user cohort, 10 profile views for about 37 % of the users. ' +
        `${clients} clients scroll (${PAGES_PER_SCROLL} pages of ${PAGE}: the first builds the scroll snapshot of up ` +
        `to ${SNAPSHOT_SIZE} ids), ${seconds} s each after 3 s of warm-up. GraphQL: the server process over HTTP ` +
        `(pool of ${poolMax}). SQL only: the same repository statements from the benchmark process on its own pool ` +
        `of ${poolMax} (no HTTP, GraphQL, auth or URL signing): the ceiling.`,
      '',
      '| scenario | via | pages/s | first page p50 | first page p99 | next page p50 | next page p99 | all p50 | all p99 | errors |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rows.map(
        (r) =>
          `| ${r.scenario} | ${r.via} | ${Math.round(r.perSecond)} | ${ms(percentile(r.first, 50))} | ${ms(percentile(r.first, 99))} | ` +
          `${ms(percentile(r.next, 50))} | ${ms(percentile(r.next, 99))} | ${ms(percentile(all(r), 50))} | ` +
          `${ms(percentile(all(r), 99))} | ${r.errors} |`,
      ),
      '',
      `Full read-model rebuild (every card re-read from the published views, ${rebuilt.upserted} written): ` +
        `${Math.round(rebuildMs)} ms. A snapshot row holds about ${Math.round(Number(sessionBytes.rows[0]?.bytes ?? 0) / 1024)} KiB of ids.`,
      '',
      `Machine: ${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ` +
        `Node ${process.version}, ${version.split(' on ')[0]} (${database.kind}).`,
    ].join('\n');
    process.stdout.write(`\n${report}\n`);
    await mkdir(path.dirname(RESULTS_FILE), { recursive: true });
    await writeFile(RESULTS_FILE, `${report}\n`);
    progress(`wrote ${path.relative(process.cwd(), RESULTS_FILE)}`);
    return rows.some((r) => r.errors > 0 || r.pages === 0) ? 1 : 0;
  } finally {
    await cleanUp();
  }
}

/** The data set, in a handful of set-based statements (no API: minutes of requests otherwise). */
async function fill(
  db: ReturnType<typeof createDatabase>['db'],
  users: number,
  streamers: number,
  online: number,
): Promise<void> {
  const run = (query: ReturnType<typeof sql>) => query.execute(db);
  // Literals, not parameters: the sizes are validated integers, and arithmetic on untyped
  // parameters does not resolve.
  const [total, streamerCount, onlineCount] = [sql.lit(users), sql.lit(streamers), sql.lit(online)];
  await run(sql`create table public.bench_ids (n int primary key, id uuid not null)`);
  await run(
    sql`insert into public.bench_ids select n, gen_random_uuid() from generate_series(1, ${total}) n`,
  );
  // Streamers are n ≤ streamers; the online ones n ≤ online. Every 200th account is banned.
  await run(sql`
    insert into "user".users (id, roles, created_at, updated_at, banned_at, ban_reason)
    select id,
      case when n <= ${streamerCount} then array['user', 'streamer'] else array['user'] end,
      now() - n * interval '1 minute', now(),
      case when n % 200 = 7 then now() end, case when n % 200 = 7 then 'bench' end
    from public.bench_ids`);
  await run(sql`
    insert into profile.profiles (user_id, display_name, gender, country, languages, birth_date)
    select id, 'Bench ' || n, case when n <= ${streamerCount} then 'female' else 'male' end,
      (array['US', 'DE', 'FR', 'ES', 'IT', 'BR', 'GB', 'PL'])[1 + n % 8],
      array[(array['en', 'de', 'fr', 'es', 'it', 'pt'])[1 + n % 6]], date '1995-01-01'
    from public.bench_ids`);
  await run(sql`
    insert into media.items (owner_id, kind, status, content_type, width, height, bytes, variants, created_at)
    select id, 'photo', 'approved', 'image/webp', 480, 640, 30000,
      jsonb_build_array(
        jsonb_build_object('name', '160', 'key', 'bench/' || id || '/160.webp', 'contentType', 'image/webp',
          'width', 160, 'height', 213, 'bytes', 5000)),
      now()
    from public.bench_ids where n % 20 <> 3`);
  await run(sql`
    insert into presence.status (user_id, online, online_since, last_seen_at, availability)
    select id,
      n <= ${onlineCount} or (n > ${streamerCount} and n % 30 = 0),
      case when n <= ${onlineCount} or (n > ${streamerCount} and n % 30 = 0) then now() - (n % 600) * interval '1 minute' end,
      now() - (((n * 7919) % 20000) + 600) * interval '1 minute',
      'available'
    from public.bench_ids where n <= ${streamerCount} or n % 3 <> 1`);
  // A third of the users block 3 streamers each; a fifth of the streamers block 5 users each.
  await run(sql`
    insert into blocklist.blocks (id, blocker_id, blocked_id, reason, created_at)
    select gen_random_uuid(), u.id, s.id, 'spam', now()
    from public.bench_ids u cross join generate_series(1, 3) k
    join public.bench_ids s on s.n = 1 + ((u.n * 7919 + k * 104729) % ${streamerCount})
    where u.n > ${streamerCount} and u.n % 3 = 0
    on conflict do nothing`);
  await run(sql`
    insert into blocklist.blocks (id, blocker_id, blocked_id, reason, created_at)
    select gen_random_uuid(), s.id, u.id, 'harassment', now()
    from public.bench_ids s cross join generate_series(1, 5) k
    join public.bench_ids u on u.n = ${streamerCount} + 1 + ((s.n * 7919 + k * 104729) % (${total} - ${streamerCount}))
    where s.n <= ${streamerCount} and s.n % 5 = 0
    on conflict do nothing`);
  await run(sql`
    insert into panel.cohorts (tag, name, kind) values
      ('top_streamers', 'Top streamers', 'manual'), ('new_streamers', 'New streamers', 'manual'),
      ('vip_users', 'VIP users', 'manual')`);
  await run(sql`
    insert into panel.memberships (cohort_id, user_id)
    select c.id, b.id from public.bench_ids b join panel.cohorts c on
      (c.tag = 'top_streamers' and b.n <= ${streamerCount} and b.n % 10 = 0)
      or (c.tag = 'new_streamers' and b.n <= ${streamerCount} and b.n % 10 = 1)
      or (c.tag = 'vip_users' and b.n > ${streamerCount} and b.n % 50 = 0)`);
  await run(sql`
    insert into interaction.counters (user_id, other_id, kind, count, first_at, last_at)
    select u.id, s.id, 'profile_view', 1, now(), now()
    from public.bench_ids u cross join generate_series(1, 10) k
    join public.bench_ids s on s.n = 1 + ((u.n * 31 + k * 7919) % ${streamerCount})
    where u.n > ${streamerCount} and (u.n % 20 = 0 or u.n % 3 = 0)
    on conflict do nothing`);
  await run(sql`drop table public.bench_ids`);
}

process.once('SIGINT', () => {
  progress('interrupted; cleaning up');
  void cleanUp().finally(() => process.exit(130));
});

let code = 1;
try {
  code = await main();
} catch (error) {
  progress(`failed: ${error instanceof Error ? error.stack : String(error)}`);
}
process.exit(code);
