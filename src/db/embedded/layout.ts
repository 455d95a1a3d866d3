// Where the embedded server keeps its files, and the names every part of it shares.
import path from 'node:path';

/** The cluster's superuser: initdb, starting, and bootstrapping the application's role only. */
export const SUPERUSER = 'postgres';
/** The role the application connects as: owns APP_DATABASE and its objects, not a superuser. */
export const APP_ROLE = 'roster';
export const APP_DATABASE = 'roster';

export type Log = (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;

export interface Layout {
  dataDir: string;
  pgdata: string;
  lock: string;
  secrets: string;
}

export function layout(dataDir: string): Layout {
  return {
    dataDir,
    pgdata: path.join(dataDir, 'pg'),
    lock: path.join(dataDir, 'roster.pid'),
    secrets: path.join(dataDir, 'embedded.json'),
  };
}

export interface Binaries {
  initdb: string;
  postgres: string;
}
