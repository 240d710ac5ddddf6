import type { Clock } from '../../platform/clock.ts';
import { parseServiceAccount } from '../google/service-account-token.ts';
import { ApnsProvider } from './apns.provider.ts';
import { FcmProvider } from './fcm.provider.ts';
import { createLocalOutboxProvider, type OutboxEntry } from './local-outbox.provider.ts';
import { OneSignalProvider } from './onesignal.provider.ts';
import type { PushProvider, PushTokenKind } from './push.provider.ts';
import { WebPushProvider } from './webpush.provider.ts';

export type PushConfig = {
  fcm: { projectId: string; serviceAccountJson: string; apiUrl?: string; tokenUrl?: string } | undefined;
  oneSignal: { appId: string; apiKey: string; apiUrl?: string } | undefined;
  apns:
    | { url: string; teamId: string; keyId: string; privateKeyPem: string; bundleId: string; ca?: string }
    | undefined;
  webPush: { publicKey: string; privateKey: string; subject: string } | undefined;
};

export type PushProviders = {
  /** The provider for a device token kind: the vendor when configured, else the local outbox. */
  forKind(kind: PushTokenKind): PushProvider;
  local: PushProvider;
  close(): Promise<void>;
};

/** One provider per configured vendor; every token kind without one goes to the local outbox. */
export function createPushProviders(
  config: PushConfig,
  clock: Clock,
  recordOutbox: (entry: OutboxEntry) => Promise<string>,
): PushProviders {
  const local = createLocalOutboxProvider(recordOutbox);
  const fcm = config.fcm
    ? new FcmProvider({
        projectId: config.fcm.projectId,
        credentials: parseServiceAccount(config.fcm.serviceAccountJson),
        clock,
        ...(config.fcm.apiUrl ? { apiUrl: config.fcm.apiUrl } : {}),
        ...(config.fcm.tokenUrl ? { tokenUrl: config.fcm.tokenUrl } : {}),
      })
    : undefined;
  const oneSignal = config.oneSignal ? new OneSignalProvider({ ...config.oneSignal, clock }) : undefined;
  const apns = config.apns ? new ApnsProvider({ ...config.apns, clock }) : undefined;
  const webPush = config.webPush
    ? new WebPushProvider({
        vapidPublicKey: config.webPush.publicKey,
        vapidPrivateKey: config.webPush.privateKey,
        subject: config.webPush.subject,
        clock,
      })
    : undefined;
  const byKind: Record<PushTokenKind, PushProvider> = {
    fcm: fcm ?? local,
    onesignal: oneSignal ?? local,
    apns: apns ?? local,
    apns_voip: apns ?? local,
    webpush: webPush ?? local,
  };
  return {
    forKind: (kind) => byKind[kind],
    local,
    close: async () => {
      await apns?.close();
    },
  };
}
