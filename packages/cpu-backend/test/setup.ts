// Test setup: the tensor package's op suites (included by vitest.config.ts) run on every registered
// backend through describeEachBackend. Registering `cpu` here (importing the package entry does it) adds
// it to that list; the opaque test backend of the tensor package is registered too, because some of its
// tests address it by name.
import '../../tensor/test/setup.js';
import '../src/index.js';
