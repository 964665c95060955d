import { pluginPackages } from './discovery.js';

let loaded: Promise<void> | undefined;

/**
 * Imports every installed plugin package — the CLI's dependencies whose package.json declares
 * `"lorakit": { "plugin": … }` — once, in name order; each registers its init strategies and methods,
 * merge strategies or layer dispatchers on import. Loading an adapter whose init replaced base weights
 * re-runs that init to rebuild the residual base (as PEFT does), so this runs before any adapter is
 * loaded, merged or trained further, and before the `init` command is built (it offers the registered
 * methods).
 */
export function registerInitPlugins(): Promise<void> {
  loaded ??= (async () => {
    for (const plugin of pluginPackages()) await import(plugin.name);
  })();
  return loaded;
}
