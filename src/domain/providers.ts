// Provider slugs Junction knows (contract §4). 38 from SDK 3.1.551 plus 3 from the current spec.
import type { ResourceAvailability } from './connections.ts';

const LOGO_BASE = 'https://storage.googleapis.com/vital-assets/';

interface ProviderDef { name: string; logo?: string }

const DEFS: Record<string, ProviderDef> = {
  oura: { name: 'Oura' },
  fitbit: { name: 'Fitbit' },
  garmin: { name: 'Garmin' },
  whoop: { name: 'Whoop' },
  strava: { name: 'Strava' },
  renpho: { name: 'Renpho' },
  peloton: { name: 'Peloton' },
  wahoo: { name: 'Wahoo' },
  zwift: { name: 'Zwift' },
  freestyle_libre: { name: 'Freestyle Libre', logo: 'freestyle.png' },
  abbott_libreview: { name: 'Abbott LibreView' },
  freestyle_libre_ble: { name: 'Freestyle Libre BLE', logo: 'freestyle.png' },
  eight_sleep: { name: 'Eight Sleep' },
  withings: { name: 'Withings' },
  apple_health_kit: { name: 'Apple HealthKit', logo: 'apple_health.png' },
  manual: { name: 'Manual' },
  ihealth: { name: 'iHealth' },
  google_fit: { name: 'Google Fit' },
  beurer_api: { name: 'Beurer' },
  beurer_ble: { name: 'Beurer BLE' },
  omron: { name: 'Omron' },
  omron_ble: { name: 'Omron BLE' },
  onetouch_ble: { name: 'OneTouch BLE' },
  accuchek_ble: { name: 'Accu-Chek BLE' },
  contour_ble: { name: 'Contour BLE' },
  dexcom: { name: 'Dexcom' },
  dexcom_v3: { name: 'Dexcom' },
  hammerhead: { name: 'Hammerhead' },
  my_fitness_pal: { name: 'MyFitnessPal' },
  health_connect: { name: 'Health Connect' },
  polar: { name: 'Polar' },
  cronometer: { name: 'Cronometer' },
  kardia: { name: 'Kardia' },
  whoop_v2: { name: 'Whoop' },
  ultrahuman: { name: 'Ultrahuman' },
  my_fitness_pal_v2: { name: 'MyFitnessPal' },
  map_my_fitness: { name: 'MapMyFitness' },
  runkeeper: { name: 'Runkeeper' },
  tandem_source: { name: 'Tandem Source' },
  samsung_health: { name: 'Samsung Health' },
  google_health: { name: 'Google Health' },
};

export const PROVIDER_SLUGS: readonly string[] = Object.keys(DEFS);
export const isProviderSlug = (s: string): boolean => Object.prototype.hasOwnProperty.call(DEFS, s);

export interface ProviderInfo { slug: string; name: string; logo: string }

export function providerInfo(slug: string): ProviderInfo {
  const d = DEFS[slug];
  return { slug, name: d?.name ?? slug, logo: LOGO_BASE + (d?.logo ?? `${slug}.png`) };
}

// ---------- demo providers (sandbox) ----------

export const DEMO_PROVIDERS = ['apple_health_kit', 'fitbit', 'freestyle_libre', 'oura'] as const;
export type DemoProvider = (typeof DEMO_PROVIDERS)[number];

export interface DemoDevice { sourceType: string; manufacturer: string; model: string }

const WEARABLE = ['activity', 'sleep', 'body', 'workouts', 'heartrate', 'steps'];
export const DEMO_SPECS: Record<DemoProvider, { device: DemoDevice; resources: string[] }> = {
  apple_health_kit: { device: { sourceType: 'watch', manufacturer: 'Apple', model: 'Apple Watch' }, resources: WEARABLE },
  fitbit: { device: { sourceType: 'watch', manufacturer: 'Fitbit', model: 'Charge 6' }, resources: WEARABLE },
  freestyle_libre: { device: { sourceType: 'automatic', manufacturer: 'Abbott', model: 'FreeStyle Libre 3' }, resources: ['glucose'] },
  oura: { device: { sourceType: 'ring', manufacturer: 'Oura', model: 'Oura Ring Gen3' }, resources: ['activity', 'sleep', 'heartrate', 'workouts'] },
};

export function demoResources(p: DemoProvider): Record<string, ResourceAvailability> {
  return Object.fromEntries(DEMO_SPECS[p].resources.map((r) => [r, { status: 'available', scopeRequirements: null }]));
}
