/**
 * Dense linear algebra on the host in float64, for the JS reference backend: plain row-major
 * Float64Arrays in and out, inputs never modified.
 */
export { qrHost } from './householder-qr.js';
export { svdHost } from './svd.js';
export { eighHost } from './symmetric-eigen.js';
