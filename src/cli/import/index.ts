// `roster import --team ID FILE`: bulk-load users from JSON Lines or CSV.
//
// - Every row is checked by the domain, exactly as the API checks it: the Junction fields through
//   buildUser (the user every create would insert, so the
//   create semantics, normalisation and ids are the API's own), the profile fields through
//   checkProfilePatch/applyProfilePatch. Nothing here re-states a rule.
// - The file is streamed (never loaded whole) and written in batches, one transaction each
//   (src/store/users/bulk.ts). Rows whose client_user_id a live user already holds are skipped, so a
//   re-run imports nothing twice.
// - After each committed batch, FILE.roster-import.json records the byte offset and line where the
//   next batch starts, the counts so far and the length of FILE.rejected.jsonl. A run that finds it
//   continues from there (--restart ignores it); a finished run deletes it.
// - Progress goes to stderr (a redrawn bar on a terminal, plain lines otherwise); the summary is
//   one JSON line on stdout; rejected rows go to FILE.rejected.jsonl with their line and reasons.
//
// Layout: fields.ts (the row format), line-reader.ts (lines with offsets, JSON Lines), csv.ts,
// check-row.ts (the domain's verdict on a row), checkpoint.ts, run.ts (importUsers), command.ts.
export { FIELDS, EXPORT_ONLY_FIELDS, ImportError, type Format, type Reason, type FieldDef } from './fields.ts';
export { CsvRecordParser } from './csv.ts';
export { checkRow, type Checked } from './check-row.ts';
export { checkpointPath, rejectedPath } from './checkpoint.ts';
export { importUsers, formatOf, type ImportOptions, type ImportSummary } from './run.ts';
export { registerImportCommand } from './command.ts';
export type { ProgressOptions } from '../progress.ts';
