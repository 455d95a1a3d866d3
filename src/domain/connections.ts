// Connections between a user and a data provider (wearable, app, lab device).

export type ConnectionStatus = 'connected' | 'error' | 'paused';

export interface ResourceAvailability {
  status: 'available' | 'unavailable';
  scopeRequirements: null | {
    userGranted: { required: string[]; optional: string[] };
    userDenied: { required: string[]; optional: string[] };
  };
}

export interface Connection {
  provider: string;
  status: ConnectionStatus;
  createdAt: Date;
  externalUserId: string | null;
  error: null | { type: string; message: string; at: Date };
  resources: Record<string, ResourceAvailability>;
  demo: boolean;
}

export interface Device {
  id: string;
  userId: string;
  provider: string;
  sourceType: string;
  appId: string | null;
  manufacturer: string | null;
  model: string | null;
  version: string | null;
  deviceId: string | null;
  createdAt: Date;
}

export interface NewConnection {
  id: string;
  provider: string;
  status: 'connected' | 'error';
  externalUserId: string | null;
  resources: Record<string, ResourceAvailability>;
  demo: boolean;
  createdAt: Date;
}

export interface ConnectionsRepo {
  /**
   * Adds the connection and device for a live user unless that provider is already connected
   * (then nothing changes). False when no live user has that id; else what was added.
   */
  connect(teamId: string, userId: string, conn: NewConnection, device: Device | null): Promise<false | { connected: boolean; deviceAdded: boolean }>;
  /** Removes the user's connection to `provider`; false when there was none. */
  disconnect(teamId: string, userId: string, provider: string): Promise<boolean>;
  listDevices(teamId: string, userId: string): Promise<Device[]>;
  getDevice(teamId: string, userId: string, deviceId: string): Promise<Device | null>;
}
