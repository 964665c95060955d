export { describeEachBackend } from './backends.js';
export { type GradcheckOptions, gradcheck } from './gradcheck.js';
export { createOpaqueBackend, type OpaqueHandle, type TransferCounts } from './opaque-backend.js';
