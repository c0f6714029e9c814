/**
 * The operator scripts' start: validate the configuration they need once, or print which variable is
 * wrong and exit 78 (EX_CONFIG).
 */
import { ConfigError } from '../../api/config/env';

export function configOrExit<T>(load: (env: Record<string, string | undefined>) => T): T {
  try {
    return load(process.env);
  } catch (err) {
    console.error(err instanceof ConfigError ? err.message : err);
    process.exit(78);
  }
}
