/**
 * Registers the plugin packages' init strategies (PiSSA/OLoRA/CorDA/orthogonal, EVA, LoftQ). Loading an
 * adapter whose init replaced base weights re-runs that init to rebuild the residual base (as PEFT
 * does), so it must be registered before any adapter is loaded, merged or trained further; otherwise
 * the adapter would silently be applied to the wrong base weights.
 */
export async function registerInitPlugins(): Promise<void> {
  await Promise.all([import('@lorakit/inits-svd'), import('@lorakit/eva'), import('@lorakit/loftq')]);
}
