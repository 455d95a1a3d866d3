// `npm start`: the server with configuration from the environment.
import { ConfigError } from './config.ts';
import { serve } from './server.ts';

serve().catch((e) => {
  if (e instanceof ConfigError) process.stderr.write(`roster: configuration error: ${e.message}\n`);
  else process.stderr.write(`roster: failed to start: ${(e as Error).message}\n`);
  process.exit(1);
});
