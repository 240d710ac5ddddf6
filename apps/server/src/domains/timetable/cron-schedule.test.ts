import { describe, expect, it } from 'vitest';
import {
  cronExpressionProblem,
  isValidTimeZone,
  latestTickAtOrBefore,
  nextTickAfter,
  planDueTask,
} from './cron-schedule.ts';

const at = (iso: string) => new Date(iso);
const berlinNine = { cron: '0 9 * * *', timeZone: 'Europe/Berlin', seed: 'daily' };

describe('cron expressions', () => {
  it.each(['0 9 * * *', '*/10 * * * * *', '0 0 3 * * MON-FRI', '@daily', '30 2 L * *'])(
    'accepts %s',
    (cron) => {
      expect(cronExpressionProblem(cron)).toBeUndefined();
    },
  );

  it.each([
    ['', /empty/],
    ['1 2 3', /5 fields, or 6/],
    ['* * * * * * *', /5 fields, or 6/],
    ['61 * * * *', /invalid cron expression/],
    ['every day', /5 fields, or 6|invalid/],
    ['0 0 30 2 *', /invalid cron expression/],
    ['@reboot', /invalid cron expression/],
  ])('refuses %j', (cron, message) => {
    expect(cronExpressionProblem(cron)).toMatch(message);
  });

  it('accepts IANA time zones only', () => {
    for (const zone of ['UTC', 'Europe/Berlin', 'America/Argentina/Buenos_Aires', 'Etc/GMT+2']) {
      expect(isValidTimeZone(zone), zone).toBe(true);
    }
    for (const zone of ['Mars/Base', 'europe/berlin', '+01:00', '', 'Local', 'UTC; drop table']) {
      expect(isValidTimeZone(zone), zone).toBe(false);
    }
  });
});

describe('ticks', () => {
  it('reads a daily 09:00 Europe/Berlin in local time across both DST changes', () => {
    // CET (UTC+1) until 29 March 2026, CEST (UTC+2) until 25 October 2026.
    expect(nextTickAfter(berlinNine, at('2026-03-27T12:00:00Z'))).toEqual(at('2026-03-28T08:00:00Z'));
    expect(nextTickAfter(berlinNine, at('2026-03-28T08:00:00Z'))).toEqual(at('2026-03-29T07:00:00Z'));
    expect(nextTickAfter(berlinNine, at('2026-10-24T07:00:00Z'))).toEqual(at('2026-10-25T08:00:00Z'));
    const utcNine = { ...berlinNine, timeZone: 'UTC' };
    expect(nextTickAfter(utcNine, at('2026-03-28T08:00:00Z'))).toEqual(at('2026-03-28T09:00:00Z'));
  });

  it('has second precision with a sixth field', () => {
    const everyTen = { cron: '*/10 * * * * *', timeZone: 'UTC', seed: 'x' };
    expect(nextTickAfter(everyTen, at('2026-01-01T00:00:05.250Z'))).toEqual(at('2026-01-01T00:00:10Z'));
    expect(nextTickAfter(everyTen, at('2026-01-01T00:00:10Z'))).toEqual(at('2026-01-01T00:00:20Z'));
    expect(latestTickAtOrBefore(everyTen, at('2026-01-01T00:00:10Z'))).toEqual(at('2026-01-01T00:00:10Z'));
    expect(latestTickAtOrBefore(everyTen, at('2026-01-01T00:00:19.999Z'))).toEqual(
      at('2026-01-01T00:00:10Z'),
    );
  });

  it('gives H the same value in every process for the same task', () => {
    const spec = (seed: string) => ({ cron: 'H H * * *', timeZone: 'UTC', seed });
    const from = at('2026-01-01T00:00:00Z');
    expect(nextTickAfter(spec('a'), from)).toEqual(nextTickAfter(spec('a'), from));
  });
});

describe('planDueTask', () => {
  const daily = (nextRunAt: string, catchUp: boolean) => ({
    cron: '0 9 * * *',
    timeZone: 'UTC',
    name: 'daily',
    nextRunAt: at(nextRunAt),
    catchUp,
  });
  const grace = 10_000;

  it('runs a tick claimed on time, and schedules the next one', () => {
    expect(planDueTask(daily('2026-01-05T09:00:00Z', false), at('2026-01-05T09:00:00.300Z'), grace)).toEqual({
      actions: [{ scheduledFor: at('2026-01-05T09:00:00Z'), action: 'run', trigger: 'schedule' }],
      nextRunAt: at('2026-01-06T09:00:00Z'),
    });
  });

  it('runs ticks a late claim finds within the grace period, each once', () => {
    const everySecond = { ...daily('2026-01-05T09:00:01Z', false), cron: '* * * * * *' };
    expect(planDueTask(everySecond, at('2026-01-05T09:00:03.500Z'), grace)).toEqual({
      actions: ['01', '02', '03'].map((s) => ({
        scheduledFor: at(`2026-01-05T09:00:${s}Z`),
        action: 'run',
        trigger: 'schedule',
      })),
      nextRunAt: at('2026-01-05T09:00:04Z'),
    });
  });

  it('runs the ticks missed during downtime once when the task catches up', () => {
    // Three ticks passed while nothing ran: one run, for the latest of them.
    expect(planDueTask(daily('2026-01-05T09:00:00Z', true), at('2026-01-07T12:00:00Z'), grace)).toEqual({
      actions: [{ scheduledFor: at('2026-01-07T09:00:00Z'), action: 'run', trigger: 'catch_up' }],
      nextRunAt: at('2026-01-08T09:00:00Z'),
    });
  });

  it('skips the missed ticks when the task does not catch up', () => {
    expect(planDueTask(daily('2026-01-05T09:00:00Z', false), at('2026-01-05T10:00:00Z'), grace)).toEqual({
      actions: [{ scheduledFor: at('2026-01-05T09:00:00Z'), action: 'skip', trigger: 'catch_up' }],
      nextRunAt: at('2026-01-06T09:00:00Z'),
    });
  });

  it('collapses what is older than the grace period and runs what is not', () => {
    const everySecond = { ...daily('2026-01-05T09:00:00Z', false), cron: '* * * * * *' };
    const plan = planDueTask(everySecond, at('2026-01-05T09:01:00.500Z'), grace, 100);
    expect(plan.actions[0]).toEqual({
      scheduledFor: at('2026-01-05T09:00:50Z'),
      action: 'skip',
      trigger: 'catch_up',
    });
    expect(plan.actions.slice(1).map((a) => a.scheduledFor.toISOString().slice(17, 19))).toEqual([
      '51',
      '52',
      '53',
      '54',
      '55',
      '56',
      '57',
      '58',
      '59',
      '00',
    ]);
    expect(plan.nextRunAt).toEqual(at('2026-01-05T09:01:01Z'));
  });

  it('plans at most maxRuns ticks at once; the rest stay due', () => {
    const everySecond = { ...daily('2026-01-05T09:00:00Z', false), cron: '* * * * * *' };
    const plan = planDueTask(everySecond, at('2026-01-05T09:00:05Z'), grace, 2);
    expect(plan.actions).toHaveLength(2);
    expect(plan.nextRunAt).toEqual(at('2026-01-05T09:00:02Z'));
  });
});
