import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { CpuBackendError } from './errors.js';
import { nativeAvailable, nativeLoadError } from './native.js';
import { availableKernels, cpuFeatures, getNumThreads, setKernel, setNumThreads } from './runtime.js';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

function message(call: () => unknown): string {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(CpuBackendError);
    return (error as Error).message;
  }
  throw new Error('expected a CpuBackendError');
}

describe.skipIf(!nativeAvailable)(
  `runtime settings${nativeAvailable ? '' : ` (skipped: ${nativeLoadError})`}`,
  () => {
    it('sets and reports the thread count', () => {
      const before = getNumThreads();
      setNumThreads(3);
      expect(getNumThreads()).toBe(3);
      expect(cpuFeatures().threads).toBe(3);
      setNumThreads(before);
      expect(message(() => setNumThreads(0))).toBe(
        '[setNumThreads] n must be an integer from 1 to 1024, received 0',
      );
      expect(message(() => setNumThreads(2.5))).toBe(
        '[setNumThreads] n must be an integer from 1 to 1024, received 2.5',
      );
    });

    it('switches kernels and rejects unknown ones', () => {
      const { avx2Fma, avx512 } = cpuFeatures();
      const available = availableKernels();
      expect(available).toEqual([
        ...(avx512 ? ['avx512'] : []),
        ...(avx2Fma ? ['avx2-fma'] : []),
        'portable',
      ]);
      // AVX-512 implies AVX2/FMA on every CPU that has it; the detection must agree.
      if (avx512) expect(avx2Fma).toBe(true);
      for (const kernel of available) {
        setKernel(kernel);
        expect(cpuFeatures().kernel).toBe(kernel);
      }
      setKernel('auto');
      expect(cpuFeatures().kernel).toBe(available[0]);
      expect(message(() => setKernel('sse' as 'auto'))).toBe(
        '[setKernel] unknown kernel "sse"; valid kernels: auto, portable, avx2-fma, avx512',
      );
      for (const kernel of ['avx512', 'avx2-fma'] as const) {
        if (available.includes(kernel)) continue;
        expect(message(() => setKernel(kernel))).toBe(
          `[setKernel] kernel "${kernel}" is not available on this CPU or build; available: ${['auto', ...available].join(', ')}`,
        );
      }
    });

    const startUp = (env: NodeJS.ProcessEnv) => {
      const script =
        "import { cpuFeatures } from './src/index.ts'; process.stdout.write(JSON.stringify(cpuFeatures()));";
      const output = execFileSync(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        { cwd: packageRoot, env, encoding: 'utf8' },
      );
      return JSON.parse(output) as ReturnType<typeof cpuFeatures>;
    };

    it('reads LORAKIT_CPU_KERNEL and LORAKIT_NUM_THREADS at start-up', () => {
      expect(
        startUp({ ...process.env, LORAKIT_CPU_KERNEL: 'portable', LORAKIT_NUM_THREADS: '1' }),
      ).toMatchObject({ kernel: 'portable', threads: 1 });
      const available = availableKernels();
      const { LORAKIT_CPU_KERNEL: _, ...unset } = process.env;
      expect(startUp(unset).kernel).toBe(available[0]);
      // Each name forces its set where it can run; elsewhere the automatic choice stands.
      for (const [name, kernel] of [
        ['avx512', 'avx512'],
        ['avx2', 'avx2-fma'],
        ['avx2-fma', 'avx2-fma'],
      ] as const) {
        expect(startUp({ ...process.env, LORAKIT_CPU_KERNEL: name }).kernel, name).toBe(
          available.includes(kernel) ? kernel : available[0],
        );
      }
    });
  },
);

describe('without the native addon', () => {
  it('reports why, warns once when the backend is requested, and refuses native calls', async () => {
    vi.stubEnv('LORAKIT_CPU_BACKEND_DISABLE', '1');
    vi.resetModules();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const native = await import('./native.js');
      const { sgemm } = await import('./sgemm.js');
      // Fresh module instances after resetModules: take the error class from the same instance.
      const errors = await import('./errors.js');
      expect(native.nativeAvailable).toBe(false);
      expect(native.nativeLoadError).toBe('disabled by LORAKIT_CPU_BACKEND_DISABLE=1');
      expect(warn).not.toHaveBeenCalled();
      expect(native.loadNative()).toBeUndefined();
      expect(native.loadNative()).toBeUndefined();
      expect(warn.mock.calls).toEqual([
        [
          '@lorakit/cpu-backend: native addon not available (disabled by LORAKIT_CPU_BACKEND_DISABLE=1); the JavaScript backend will be used',
        ],
      ]);
      const f = new Float32Array(1);
      let thrown: unknown;
      try {
        sgemm({ m: 1, n: 1, k: 1, a: f, b: f, c: new Float32Array(1) });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(errors.NativeUnavailableError);
      expect((thrown as Error).message).toBe(
        '[sgemm] the native addon is not available (disabled by LORAKIT_CPU_BACKEND_DISABLE=1); check nativeAvailable before using the CPU backend',
      );
    } finally {
      warn.mockRestore();
      vi.unstubAllEnvs();
      vi.resetModules();
    }
  });
});
