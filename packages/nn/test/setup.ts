// Registers the opaque test backend (below js in priority) so every `describeEachBackend` suite also
// runs on storage that is not a typed array: nn must reach data only through tensor ops.
import { registerBackend } from '@lorakit/tensor';
import { createOpaqueBackend } from '@lorakit/tensor/testing';

registerBackend(createOpaqueBackend('opaque'), -1);
