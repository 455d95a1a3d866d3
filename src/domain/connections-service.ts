// Connections and devices of a user: the sandbox demo connection, deregistration, refresh.
import { DomainError } from './errors.ts';
import { newId } from './ids.ts';
import { DEMO_SPECS, demoResources, type DemoProvider } from './providers.ts';
import type { Connection, ConnectionsRepo, Device } from './connections.ts';
import type { TeamContext } from './users/model.ts';
import type { UsersService } from './users/service.ts';
import { NO_OUTBOX, type EventOutbox } from './webhooks/ports.ts';
import { userEvent, type DomainEvent } from './webhooks/events.ts';

export interface RefreshResult {
  refreshed: string[];
  inProgress: string[];
  failed: string[];
}

export class ConnectionsService {
  constructor(
    private readonly repo: ConnectionsRepo,
    private readonly users: UsersService,
    private readonly now: () => Date = () => new Date(),
    private readonly events: EventOutbox = NO_OUTBOX,
  ) {}

  /** L1: a demo connection with its resources and one device. Repeating it changes nothing. */
  async connectDemo(team: TeamContext, userId: string, provider: DemoProvider): Promise<void> {
    if (team.mode !== 'sandbox') throw new DomainError('demo_not_in_sandbox', 'Demo connections are only available in sandbox');
    await this.users.requireLive(team.teamId, userId);
    const now = this.now();
    const spec = DEMO_SPECS[provider];
    const device: Device = {
      id: newId(now.getTime()),
      userId,
      provider,
      sourceType: spec.device.sourceType,
      appId: null,
      manufacturer: spec.device.manufacturer,
      model: spec.device.model,
      version: null,
      deviceId: `demo-${provider}`,
      createdAt: now,
    };
    const resources = demoResources(provider);
    const ok = await this.events.emit(team.teamId,
      () => this.repo.connect(team.teamId, userId, { id: newId(now.getTime()), provider, status: 'connected', externalUserId: null, resources, demo: true, createdAt: now }, device),
      (r) => {
        const out: DomainEvent[] = [];
        if (r && r.connected) {
          out.push(userEvent('connection.created', team.teamId, userId, now, {
            provider, external_user_id: null,
            resources: Object.fromEntries(Object.entries(resources).map(([k, v]) => [k, { status: v.status, scope_requirements: v.scopeRequirements }])),
          }));
        }
        if (r && r.deviceAdded) {
          out.push(userEvent('device.created', team.teamId, userId, now, { provider, device: {
            id: device.id, provider, source_type: device.sourceType, app_id: device.appId, device_manufacturer: device.manufacturer,
            device_model: device.model, device_version: device.version, device_id: device.deviceId,
          } }));
        }
        return out;
      });
    if (!ok) throw new DomainError('user_not_found', 'User not found');
  }

  async disconnect(teamId: string, userId: string, provider: string): Promise<void> {
    await this.users.requireLive(teamId, userId);
    const at = this.now();
    if (!(await this.events.emit(teamId, () => this.repo.disconnect(teamId, userId, provider), (r) => (r ? [userEvent('connection.deleted', teamId, userId, at, { provider })] : [])))) throw new DomainError('connection_not_found', 'Connection not found');
  }

  /** Current connections as every view shows them (paused after the ingestion window). */
  async connections(teamId: string, userId: string): Promise<Connection[]> {
    return (await this.users.get(teamId, userId)).connections;
  }

  async devices(teamId: string, userId: string): Promise<Device[]> {
    await this.users.requireLive(teamId, userId);
    return this.repo.listDevices(teamId, userId);
  }

  async device(teamId: string, userId: string, deviceId: string): Promise<Device> {
    await this.users.requireLive(teamId, userId);
    const d = await this.repo.getDevice(teamId, userId, deviceId);
    if (!d) throw new DomainError('device_not_found', 'Device not found');
    return d;
  }

  /**
   * Synchronous refresh: every resource of every connected source is refreshed at once; paused
   * or errored connections cannot pull data and are reported as failed.
   */
  async refresh(teamId: string, userId: string): Promise<RefreshResult> {
    const conns = await this.connections(teamId, userId);
    if (conns.length === 0) throw new DomainError('no_connections', 'user has no connected sources');
    const out: RefreshResult = { refreshed: [], inProgress: [], failed: [] };
    for (const c of conns) {
      const names = Object.keys(c.resources).sort().map((r) => `${c.provider}/${r}`);
      (c.status === 'connected' ? out.refreshed : out.failed).push(...names);
    }
    return out;
  }
}
