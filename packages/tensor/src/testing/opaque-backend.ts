import {
  type Backend,
  createJsBackend,
  type IndexBoundsCheck,
  type JsStorage,
  type View,
} from '@lorakit/tensor';

/** A storage handle that reveals nothing: only the opaque backend can turn it into memory. */
export interface OpaqueHandle {
  readonly id: number;
}

export interface TransferCounts {
  toHost: number;
  fromHost: number;
}

/**
 * A test-only backend whose storages are opaque handles rather than typed arrays, counting host
 * transfers. Running the op suite on it proves that nothing outside a backend touches a buffer.
 *
 * It behaves like a device in one more way: it has `checkIndexBounds`, so ops check indices without a
 * host read, and a failed check is thrown at the next `toHost` (the first failing value in logical
 * order; the earliest failed check first), as a GPU backend raises its error flag at the next
 * synchronization.
 */
export function createOpaqueBackend(name = 'opaque'): Backend<OpaqueHandle> & {
  readonly transfers: TransferCounts;
  readonly live: () => number;
} {
  const inner = createJsBackend(`${name}-inner`);
  const memory = new Map<number, JsStorage>();
  let nextId = 1;
  const transfers: TransferCounts = { toHost: 0, fromHost: 0 };
  const put = (storage: JsStorage): OpaqueHandle => {
    const handle = Object.freeze({ id: nextId++ });
    memory.set(handle.id, storage);
    return handle;
  };
  const get = (handle: OpaqueHandle): JsStorage => {
    const storage = memory.get(handle.id);
    if (!storage) throw new Error(`[opaque backend] handle ${handle.id} was disposed or never existed`);
    return storage;
  };
  const unwrap = (view: View<OpaqueHandle>): View<JsStorage> => ({ ...view, storage: get(view.storage) });
  // Failed index checks waiting for the next toHost, oldest first.
  let pending: { check: IndexBoundsCheck; value: number }[] = [];

  return {
    name,
    transfers,
    live: () => memory.size,
    fromHost(data, dtype) {
      transfers.fromHost++;
      return put(inner.fromHost(data, dtype));
    },
    toHost(x) {
      transfers.toHost++;
      const failed = pending[0];
      pending = [];
      if (failed) throw failed.check.error(failed.value);
      return inner.toHost(unwrap(x));
    },
    checkIndexBounds(index, check) {
      // The "device" reads its own memory: no transfer is counted.
      const values = inner.toHost(unwrap(index));
      for (const value of values) {
        const v = Number(value);
        if ((v < check.low || v >= check.high) && v !== check.allowed) {
          pending.push({ check, value: v });
          return;
        }
      }
    },
    dispose(handle) {
      memory.delete(handle.id);
    },
    full: (dtype, size, value) => put(inner.full(dtype, size, value)),
    arange: (dtype, start, step, size) => put(inner.arange(dtype, start, step, size)),
    random: (dtype, size, spec, key, counter) => put(inner.random(dtype, size, spec, key, counter)),
    copy: (x, dtype) => put(inner.copy(unwrap(x), dtype)),
    assign: (dst, src) => inner.assign(unwrap(dst), unwrap(src)),
    unary: (op, x, outDtype, params) => put(inner.unary(op, unwrap(x), outDtype, params)),
    binary: (op, a, b, outDtype) => put(inner.binary(op, unwrap(a), unwrap(b), outDtype)),
    where: (c, a, b, outDtype) => put(inner.where(unwrap(c), unwrap(a), unwrap(b), outDtype)),
    reduce: (op, x, axes, outDtype) => put(inner.reduce(op, unwrap(x), axes, outDtype)),
    argReduce: (op, x, axis) => put(inner.argReduce(op, unwrap(x), axis)),
    softmax: (x, axis, log) => put(inner.softmax(unwrap(x), axis, log)),
    matmul: (a, b, outDtype) => put(inner.matmul(unwrap(a), unwrap(b), outDtype)),
    gather: (x, axis, index) => put(inner.gather(unwrap(x), axis, unwrap(index))),
    scatterAdd: (shape, dtype, axis, index, src) =>
      put(inner.scatterAdd(shape, dtype, axis, unwrap(index), unwrap(src))),
    indexSelect: (x, axis, index) => put(inner.indexSelect(unwrap(x), axis, unwrap(index))),
    indexAdd: (shape, dtype, axis, index, src) =>
      put(inner.indexAdd(shape, dtype, axis, unwrap(index), unwrap(src))),
    sort(x, axis, descending) {
      const out = inner.sort(unwrap(x), axis, descending);
      return { values: put(out.values), indices: put(out.indices) };
    },
    im2col: (x, geometry) => put(inner.im2col(unwrap(x), geometry)),
    col2im: (columns, geometry, shape) => put(inner.col2im(unwrap(columns), geometry, shape)),
    svd(x, full) {
      const out = inner.svd(unwrap(x), full);
      return { u: put(out.u), s: put(out.s), vh: put(out.vh) };
    },
    qr(x) {
      const out = inner.qr(unwrap(x));
      return { q: put(out.q), r: put(out.r) };
    },
    eigh(x) {
      const out = inner.eigh(unwrap(x));
      return { values: put(out.values), vectors: put(out.vectors) };
    },
    rmsNorm(x, weight, eps) {
      const out = inner.rmsNorm!(unwrap(x), weight && unwrap(weight), eps);
      return { out: put(out.out), rstd: put(out.rstd) };
    },
    layerNorm(x, weight, bias, eps) {
      const out = inner.layerNorm!(unwrap(x), weight && unwrap(weight), bias && unwrap(bias), eps);
      return { out: put(out.out), mean: put(out.mean), rstd: put(out.rstd) };
    },
    loraLinear(x, weight, bias, a, b, scale) {
      const out = inner.loraLinear!(
        unwrap(x),
        unwrap(weight),
        bias && unwrap(bias),
        unwrap(a),
        unwrap(b),
        scale,
      );
      return { out: put(out.out), hidden: put(out.hidden) };
    },
    scatterAddInPlace(dst, axis, index, src) {
      inner.scatterAddInPlace!(unwrap(dst), axis, unwrap(index), unwrap(src));
    },
    dequantize4bit: (packed, absmax, codebook, size, blocksize, outDtype) =>
      put(inner.dequantize4bit!(unwrap(packed), unwrap(absmax), unwrap(codebook), size, blocksize, outDtype)),
    dequantizeInt8: (codes, absmax, rows, columns, scale, outDtype) =>
      put(inner.dequantizeInt8!(unwrap(codes), unwrap(absmax), rows, columns, scale, outDtype)),
    adamwStep(param, grad, expAvg, expAvgSq, maxExpAvgSq, options) {
      inner.adamwStep!(
        unwrap(param),
        unwrap(grad),
        unwrap(expAvg),
        unwrap(expAvgSq),
        maxExpAvgSq && unwrap(maxExpAvgSq),
        options,
      );
    },
  };
}
