// The console's webhook pages (contract §8, issues 12 and 13), plugged in as a ConsoleSection: a nav
// entry and routes registered with the console's kit (session, CSRF and origin checks, layout,
// audit). Every change goes through WebhooksService, the same operations as the admin API.
import type { ConsoleSection } from '../kit.ts';
import { endpointsRoutes } from './endpoints.ts';
import { endpointRoutes } from './endpoint.ts';
import { deliveryRoutes } from './delivery.ts';

export const webhooksSection: ConsoleSection = {
  nav: { path: 'webhooks', label: 'Webhooks' },
  register(app, kit) {
    endpointsRoutes(app, kit);
    deliveryRoutes(app, kit);
    endpointRoutes(app, kit);
  },
};
