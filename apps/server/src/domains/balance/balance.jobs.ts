import type { CronService } from '../timetable/cron.service.ts';
import type { LedgerService } from './ledger.service.ts';

export const RELEASE_EARNINGS_TASK = 'balance.release_earnings';

/** Held earnings become available within a minute of their hold period ending. */
export function registerBalanceJobs(cron: CronService, ledger: LedgerService): void {
  cron.registerTask(
    RELEASE_EARNINGS_TASK,
    async ({ log }) => {
      const released = await ledger.releaseDueEarnings();
      if (released > 0) log.info({ released }, 'balance: held earnings released');
    },
    { defaultTask: { name: 'release-earnings', cron: '0 * * * * *' } },
  );
}
