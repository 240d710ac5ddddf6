import { type AgoraConfig, AgoraProvider } from './agora.provider.ts';
import { LocalWebRtcProvider } from './local-webrtc.provider.ts';
import { type TwilioConfig, TwilioProvider } from './twilio.provider.ts';
import type { IceServer, VideoProvider, VideoProviderName } from './video.provider.ts';

export type VideoConfig = {
  /** Tried in this order; a provider whose circuit is open is skipped. */
  priority: VideoProviderName[];
  agora: AgoraConfig | undefined;
  twilio: TwilioConfig | undefined;
  iceServers: IceServer[];
};

/** The configured providers, in priority order (config validation guarantees each listed one is configured). */
export function createVideoProviders(config: VideoConfig, fetchImpl: typeof fetch = fetch): VideoProvider[] {
  return config.priority.map((name): VideoProvider => {
    if (name === 'agora') {
      if (!config.agora) throw new Error('VIDEO_PROVIDERS lists agora but AGORA_APP_ID is not set');
      return new AgoraProvider(config.agora, fetchImpl);
    }
    if (name === 'twilio') {
      if (!config.twilio) throw new Error('VIDEO_PROVIDERS lists twilio but TWILIO_ACCOUNT_SID is not set');
      return new TwilioProvider(config.twilio, fetchImpl);
    }
    return new LocalWebRtcProvider(config.iceServers);
  });
}
