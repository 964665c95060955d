// Registers the opaque test backend (below js in priority) so every `describeEachBackend` suite also
// runs on storage that is not a typed array.
import { registerBackend } from '../src/index.js';
import { createOpaqueBackend } from '../src/testing/opaque-backend.js';

registerBackend(createOpaqueBackend('opaque'), -1);
