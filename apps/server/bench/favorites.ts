/**
 * `node apps/server/bench/favorites.ts`: how long the "favourite came online" fan-out takes. A
 * fresh PostgreSQL and the real services in this process, the event log's consumers running as in
 * a server. One streamer has BENCH_FAVORITES_FOLLOWERS (50,000) followers, beside
 * BENCH_FAVORITES_BACKGROUND (200,000) favourites of other streamers; 1% of its followers are
 * blocked either way. Each run emits `user_came_online` for it (what presence does) and measures,
 * from that commit, until every `favorite_came_online` batch is in the event log (the consumer
 * writes them all in one transaction). Prints a Markdown report and writes
 * bench/results/favorites.md.
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { buildApp } from '../src/app.ts';
import { CAME_ONLINE_BATCH, favoriteCameOnline } from '../src/domains/favorites/favorites.events.ts';
import { FavoritesRepository } from '../src/domains/favorites/favorites.repository.ts';
import { domainMigrations } from '../src/domains/registry.ts';
import { userCameOnline } from '../src/domains/user/presence/presence.events.ts';
import { systemClock } from '../src/platform/clock.ts';
import { createDatabase } from '../src/platform/db/database.ts';
import { platformMigrations, readMigrations } from '../src/platform/db/migrator.ts';
import { withTransaction } from '../src/platform/db/transaction.ts';
import { testConfig } from '../test/app.ts';
import { describeDatabase, startBenchDatabase } from './bench-database.ts';
import { cleanupStack, integerFromEnv, percentile } from './bench-support.ts';

const RESULTS_FILE = path.join(import.meta.dirname, 'results', 'favorites.md');
const progress = (message: string) => process.stderr.write(`bench:favorites: ${message}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const { cleanups, cleanUp } = cleanupStack();

async function main(): Promise<number> {
  const followers = integerFromEnv('BENCH_FAVORITES_FOLLOWERS', 50_000, 1);
  const background = integerFromEnv('BENCH_FAVORITES_BACKGROUND', 200_000, 0);
  const runs = integerFromEnv('BENCH_FAVORITES_RUNS', 10, 1);
  try {
    progress('starting PostgreSQL');
    const database = await startBenchDatabase(process.env.BENCH_DATABASE_URL || undefined);
    cleanups.push(database.stop);
    const handle = createDatabase({ url: database.url, poolMax: 10 });
    const built = await buildApp({
      config: testConfig({ DATABASE_URL: database.url }),
      database: handle,
      migrations: await readMigrations([platformMigrations, ...domainMigrations]),
      clock: systemClock,
    });
    cleanups.push(built.shutdown);
    const { services } = built;
    const db = handle.db;
    const star = await services.accounts.createOloAccount(['user', 'streamer']);

    progress(`storing ${followers} followers of one streamer and ${background} other favourites`);
    await sql`insert into favorites.favorites (user_id, favorite_id, created_at)
              select gen_random_uuid(), ${star.id}::uuid, now() - g * interval '1 second'
                from generate_series(1, ${followers}) g`.execute(db);
    await sql`insert into favorites.follower_counts (favorite_id, followers) values (${star.id}, ${followers})`.execute(
      db,
    );
    if (background > 0) {
      // 2,000 other streamers, so the star's followers are a slice of a larger index.
      await sql`with s as (select gen_random_uuid() as id, n from generate_series(0, 1999) n)
                insert into favorites.favorites (user_id, favorite_id, created_at)
                select gen_random_uuid(), s.id, now() - g * interval '1 second'
                  from generate_series(1, ${background}) g join s on s.n = g % 2000`.execute(db);
    }
    // 1% blocked, half each way: the fan-out must leave them out.
    const blocked = await sql<{ n: string }>`
      with picked as (
        select user_id, row_number() over (order by user_id) as r
          from favorites.favorites where favorite_id = ${star.id}
         order by random() limit ${Math.floor(followers / 100)}
      ), inserted as (
        insert into blocklist.blocks (id, blocker_id, blocked_id, reason, created_at)
        select gen_random_uuid(),
               case when r % 2 = 0 then user_id else ${star.id}::uuid end,
               case when r % 2 = 0 then ${star.id}::uuid else user_id end,
               'spam', now()
          from picked
        returning 1
      ) select count(*)::text as n from inserted`.execute(db);
    const blockedCount = Number(blocked.rows[0]?.n ?? 0);
    await sql`analyze favorites.favorites`.execute(db);
    await sql`analyze blocklist.blocks`.execute(db);
    const expectedFollowers = followers - blockedCount;
    const expectedBatches = Math.ceil(expectedFollowers / CAME_ONLINE_BATCH);

    await services.eventLog.start();
    const batchesSince = async (position: bigint) => {
      const rows = await db
        .selectFrom('event_log.events')
        .select(['payload'])
        .where('type', '=', favoriteCameOnline.type)
        .where('user_id', '=', star.id)
        .where('position', '>', position)
        .execute();
      return rows;
    };

    const timings: number[] = [];
    let failures = 0;
    // One more run than measured: the first warms the connections and the plan cache.
    for (let run = 0; run <= runs; run++) {
      const head = await services.eventLog.headPosition();
      const started = performance.now();
      await withTransaction(db, (tx) =>
        services.eventLog.emit(
          tx,
          userCameOnline.event(
            { userId: star.id, onlineSince: new Date().toISOString() },
            { userId: star.id },
          ),
        ),
      );
      const committed = performance.now();
      const deadline = committed + 60_000;
      let found = await batchesSince(head);
      while (found.length < expectedBatches && performance.now() < deadline) {
        await sleep(5);
        found = await batchesSince(head);
      }
      const elapsed = performance.now() - committed;
      const notified = found.reduce(
        (sum, row) => sum + ((row.payload as { followerIds?: string[] }).followerIds?.length ?? 0),
        0,
      );
      if (found.length !== expectedBatches || notified !== expectedFollowers) {
        failures++;
        progress(
          `run ${run}: ${found.length} batches, ${notified} followers (expected ${expectedFollowers})`,
        );
      }
      if (run > 0) timings.push(elapsed);
      progress(`run ${run}: ${elapsed.toFixed(0)} ms (emit commit ${(committed - started).toFixed(1)} ms)`);
      await sleep(200);
    }
    timings.sort((a, b) => a - b);

    // Where the time goes: the same keyset reads the consumer makes, without emitting anything.
    const repo = new FavoritesRepository(db);
    const readTimings: number[] = [];
    for (let run = 0; run < 5; run++) {
      const started = performance.now();
      await withTransaction(db, async (tx) => {
        let after: string | null = null;
        for (;;) {
          const ids = await repo.followersToNotify(tx, star.id, after, CAME_ONLINE_BATCH);
          if (ids.length < CAME_ONLINE_BATCH) break;
          after = ids.at(-1) ?? null;
        }
      });
      readTimings.push(performance.now() - started);
    }
    readTimings.sort((a, b) => a - b);
    const ms = (value: number) => `${value.toFixed(0)} ms`;
    const cpus = os.cpus();
    const { version } = await describeDatabase(database.url);
    const report = [
      `### Favourite came online (${new Date().toISOString().slice(0, 10)})`,
      '',
      `\`BENCH_FAVORITES_FOLLOWERS=${followers} BENCH_FAVORITES_BACKGROUND=${background} BENCH_FAVORITES_RUNS=${runs} node apps/server/bench/favorites.ts\``,
      '',
      `One streamer with ${followers.toLocaleString('en')} followers (${blockedCount.toLocaleString('en')} of them blocked ` +
        `either way), beside ${background.toLocaleString('en')} favourites of 2,000 other streamers. Each run emits ` +
        '`user_came_online` for the streamer; measured from its commit until all `favorite_came_online` batches are in ' +
        `the event log (${expectedBatches} events of at most ${CAME_ONLINE_BATCH} followers, ` +
        `${expectedFollowers.toLocaleString('en')} followers in all). Includes the consumer's pick-up (LISTEN/NOTIFY) and ` +
        'the 5 ms polling of the check. One warm-up run not counted.',
      '',
      '| runs | p50 | p90 | max | min | failed |',
      '| ---: | --: | --: | --: | --: | -----: |',
      `| ${timings.length} | ${ms(percentile(timings, 50))} | ${ms(percentile(timings, 90))} | ${ms(timings.at(-1) ?? Number.NaN)} | ` +
        `${ms(timings[0] ?? Number.NaN)} | ${failures} |`,
      '',
      `The follower reads alone (the ${expectedBatches} keyset queries with the block check, in one transaction, ` +
        `nothing emitted): median ${ms(percentile(readTimings, 50))} over ${readTimings.length} runs.`,
      '',
      `Machine: ${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ` +
        `Node ${process.version}, ${version.split(' on ')[0]} (${database.kind}).`,
    ].join('\n');
    process.stdout.write(`${report}\n`);
    await writeFile(RESULTS_FILE, `${report}\n`);
    return failures === 0 ? 0 : 1;
  } finally {
    await cleanUp();
  }
}

process.once('SIGINT', () => {
  void cleanUp().finally(() => process.exit(130));
});
process.exitCode = await main();
