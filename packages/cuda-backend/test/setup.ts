// Registers the opaque test backend of @lorakit/tensor (some of its suites address it by name) and, when a
// GPU is usable, `cuda` (importing the package entry does it, or prints why not).
import '../../tensor/test/setup.js';
import '../src/index.js';
