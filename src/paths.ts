// Moved to src/kernel/paths.ts (every floor may import it); kept for importers not yet moved.
export { packageRoot, rosterVersion } from './kernel/paths.ts';
