import type { Config } from '../../platform/config/config.ts';
import { AmplitudeDestination } from './amplitude.destination.ts';
import type { AnalyticsDestination, AnalyticsEvent } from './analytics.destination.ts';
import { AppsflyerS2sDestination } from './appsflyer-s2s.destination.ts';
import { EventSinkDestination } from './event-sink.destination.ts';
import { Ga4MeasurementDestination } from './ga4-measurement.destination.ts';
import { SnapchatCapiDestination } from './snapchat-capi.destination.ts';

/** The configured vendors, plus the local sink (on by default when no vendor is configured). */
export function createDestinations(
  config: Config['analytics'],
  sink: (events: AnalyticsEvent[]) => Promise<number>,
): AnalyticsDestination[] {
  const destinations: AnalyticsDestination[] = [];
  if (config.snapchat) destinations.push(new SnapchatCapiDestination(config.snapchat));
  if (config.appsflyer) destinations.push(new AppsflyerS2sDestination(config.appsflyer));
  if (config.amplitude) destinations.push(new AmplitudeDestination(config.amplitude));
  if (config.ga4) destinations.push(new Ga4MeasurementDestination(config.ga4));
  if (config.sink ?? destinations.length === 0) destinations.push(new EventSinkDestination(sink));
  return destinations;
}
