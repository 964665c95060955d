import { readFileSync } from 'node:fs';

/** The package version, read from package.json beside dist/ (or src/ when run from source). */
export const VERSION: string = (() => {
  try {
    const text = readFileSync(new URL('../package.json', import.meta.url), 'utf8');
    return (JSON.parse(text) as { version: string }).version;
  } catch {
    return 'unknown (package.json not found beside the CLI)';
  }
})();
