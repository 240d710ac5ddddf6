import type { CronService } from '../timetable/cron.service.ts';
import type { GalleryService } from './gallery.service.ts';

export const GALLERY_REBUILD_TASK = 'gallery.rebuild_cards';

/**
 * Every 10 minutes the whole read model is re-read from the published views: what catches changes no
 * event reports (a display name or country edited, roles changed, a timed ban that ended). Only rows
 * that differ are written. Expired scrolls go in the same run.
 */
export function registerGalleryJobs(cron: CronService, gallery: GalleryService): void {
  cron.registerTask(
    GALLERY_REBUILD_TASK,
    async ({ log }) => {
      const result = await gallery.rebuild();
      if (result.upserted + result.removed + result.bansLifted > 0)
        log.info(result, 'gallery: cards rebuilt');
    },
    { defaultTask: { name: 'gallery-rebuild-cards', cron: '0 */10 * * * *' } },
  );
}
