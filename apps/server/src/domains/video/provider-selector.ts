import type { Clock } from '../../platform/clock.ts';
import type { Logger } from '../../platform/observability/logger.ts';
import type { VideoProvider, VideoProviderName } from '../../providers/video/video.provider.ts';
import type { SettingsService } from '../settings/settings.service.ts';
import type { FailureSource, ProviderHealthRepository } from './provider-health.repository.ts';

export type ProviderStatus = {
  name: VideoProviderName;
  priority: number;
  circuit: 'closed' | 'open';
  openUntil: Date | null;
  reason: string | null;
  recentFailures: number;
  lastCheckAt: Date | null;
  lastCheckOk: boolean | null;
  lastCheckDetail: string | null;
};

/**
 * Chooses a call's provider: the first in the configured priority whose circuit is closed and that
 * the call has not failed with yet. A provider's circuit opens after
 * `video.circuit_failure_threshold` failures within `video.circuit_open_seconds` and stays open that
 * long; then calls may try it again (a new failure re-opens it at once). With every circuit open the
 * last provider of the list is used rather than refusing calls.
 */
export class ProviderSelector {
  private readonly deps: {
    providers: VideoProvider[];
    repo: ProviderHealthRepository;
    settings: Pick<SettingsService, 'get'>;
    clock: Clock;
    logger: Logger;
  };

  constructor(deps: ProviderSelector['deps']) {
    if (deps.providers.length === 0) throw new Error('at least one video provider is needed');
    this.deps = deps;
  }

  get providers(): readonly VideoProvider[] {
    return this.deps.providers;
  }

  byName(name: string): VideoProvider | undefined {
    return this.deps.providers.find((p) => p.name === name);
  }

  /** The provider for a call that already failed with `exclude` (none for a new call). */
  async choose(exclude: readonly string[] = []): Promise<VideoProvider> {
    const now = this.deps.clock.now();
    const open = new Set(
      (await this.deps.repo.circuits())
        .filter((c) => c.openUntil !== null && c.openUntil > now)
        .map((c) => c.provider),
    );
    const candidates = this.deps.providers.filter((p) => !exclude.includes(p.name));
    const healthy = candidates.find((p) => !open.has(p.name));
    const fallback = candidates.at(-1) ?? this.deps.providers.at(-1);
    const chosen = healthy ?? fallback;
    if (!chosen) throw new Error('no video provider');
    return chosen;
  }

  async reportFailure(provider: string, source: FailureSource, callId: string | null, reason: string) {
    const [threshold, windowSeconds] = await Promise.all([
      this.deps.settings.get('video.circuit_failure_threshold'),
      this.deps.settings.get('video.circuit_open_seconds'),
    ]);
    const opened = await this.deps.repo.recordFailure(
      { provider, source, callId, reason, at: this.deps.clock.now() },
      { threshold, windowSeconds },
    );
    if (opened)
      this.deps.logger.warn({ provider, source, reason }, 'video provider circuit open: calls skip it');
  }

  /** Probes every provider (the cron task): an unhealthy answer counts as a failure. */
  async checkAll(): Promise<ProviderStatus[]> {
    for (const provider of this.deps.providers) {
      const result = await provider.health().catch((error: unknown) => ({
        healthy: false,
        detail: error instanceof Error ? error.message : String(error),
      }));
      await this.deps.repo.recordCheck(provider.name, this.deps.clock.now(), result.healthy, result.detail);
      if (!result.healthy) {
        await this.reportFailure(provider.name, 'health_check', null, result.detail ?? 'unhealthy');
      }
    }
    return this.status();
  }

  async status(): Promise<ProviderStatus[]> {
    const now = this.deps.clock.now();
    const windowSeconds = await this.deps.settings.get('video.circuit_open_seconds');
    const circuits = new Map((await this.deps.repo.circuits()).map((c) => [c.provider, c]));
    return Promise.all(
      this.deps.providers.map(async (provider, index) => {
        const circuit = circuits.get(provider.name);
        const isOpen = circuit?.openUntil != null && circuit.openUntil > now;
        return {
          name: provider.name,
          priority: index + 1,
          circuit: isOpen ? ('open' as const) : ('closed' as const),
          openUntil: isOpen ? (circuit?.openUntil ?? null) : null,
          reason: isOpen ? (circuit?.reason ?? null) : null,
          recentFailures: await this.deps.repo.recentFailures(
            provider.name,
            new Date(now.getTime() - windowSeconds * 1000),
          ),
          lastCheckAt: circuit?.lastCheckAt ?? null,
          lastCheckOk: circuit?.lastCheckOk ?? null,
          lastCheckDetail: circuit?.lastCheckDetail ?? null,
        };
      }),
    );
  }

  async closeCircuit(provider: string): Promise<void> {
    await this.deps.repo.close(provider);
  }
}
