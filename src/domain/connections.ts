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
