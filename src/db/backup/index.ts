// Logical backup and restore of Roster's database (`roster backup`, `roster restore`).
//
// The file: gzip over a text stream, the same on an embedded PostgreSQL 18 and a server 15+:
//
//   {"format":"roster-backup","version":1, created_at, migrations, tables, sequences, ...}\n
//   <COPY text rows of tables[0]>\.\n        (PostgreSQL's own COPY text format and end marker)
//   <COPY text rows of tables[1]>\.\n
//   ...
//   {"end":"roster-backup","tables":[{name, rows, sha256}, ...],"rows":N}\n
//
// COPY's text format writes one line per row (backslash escapes inside values), so a line that is
// exactly `\.` can only be the end of a table. Tables come in foreign-key order (parents first), so
// restore loads the stream as it reads it. The trailer's row counts and SHA-256 per table, checked
// before commit, and gzip's CRC make a truncated or altered file fail loudly.
//
// Backup: one REPEATABLE READ, READ ONLY transaction (one snapshot for every table, the server keeps
// serving), tables and sequences read from the catalog (every table of Roster's schema but the
// migration bookkeeping, which is recorded as the list of applied migrations instead).
// Restore: one transaction: migrate the target to the backup's level, empty it, load, set the
// sequences, verify, apply the migrations this build has beyond the backup's, commit.
//
// Layout: format.ts (header, trailer, BackupReader), catalog.ts (tables in load order, sequences,
// connections), backup.ts (backupDatabase), restore.ts (restoreDatabase).
export { BACKUP_FORMAT, BACKUP_VERSION, BackupError, type BackupHeader, type BackupSequence, type BackupTable, type BackupTrailer } from './format.ts';
export { backupDatabase, type BackupOptions, type BackupSummary } from './backup.ts';
export { restoreDatabase, type RestoreOptions, type RestoreProgress, type RestoreSummary } from './restore.ts';
