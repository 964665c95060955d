import type { ConvGeometry, View } from '../../backend/kernels.js';
import { allocateNumeric, finish, type JsStorage, numeric } from './storage.js';

/** Visits (channel, kernel offset, output position) → input position for one image. */
function walk(
  channels: number,
  inputSpatial: readonly number[],
  geometry: ConvGeometry,
  visit: (row: number, column: number, c: number, inputFlat: number) => void,
): void {
  const nd = geometry.kernel.length;
  const kernelSize = geometry.kernel.reduce((a, b) => a * b, 1);
  const outSize = geometry.outSpatial.reduce((a, b) => a * b, 1);
  const kpos = new Array<number>(nd);
  const opos = new Array<number>(nd);
  for (let c = 0; c < channels; c++) {
    for (let kf = 0; kf < kernelSize; kf++) {
      let rest = kf;
      for (let d = nd - 1; d >= 0; d--) {
        kpos[d] = rest % geometry.kernel[d]!;
        rest = Math.floor(rest / geometry.kernel[d]!);
      }
      const row = c * kernelSize + kf;
      for (let of = 0; of < outSize; of++) {
        let r = of;
        for (let d = nd - 1; d >= 0; d--) {
          opos[d] = r % geometry.outSpatial[d]!;
          r = Math.floor(r / geometry.outSpatial[d]!);
        }
        let inputFlat = 0;
        let inside = true;
        for (let d = 0; d < nd; d++) {
          const p = opos[d]! * geometry.stride[d]! - geometry.padding[d]! + kpos[d]! * geometry.dilation[d]!;
          if (p < 0 || p >= inputSpatial[d]!) {
            inside = false;
            break;
          }
          inputFlat = inputFlat * inputSpatial[d]! + p;
        }
        visit(row, of, c, inside ? inputFlat : -1);
      }
    }
  }
}

export function im2col(x: View, geometry: ConvGeometry): JsStorage {
  const input = numeric(x);
  const [batch, channels] = x.shape as [number, number];
  const spatial = x.shape.slice(2);
  const rows = channels * geometry.kernel.reduce((a, b) => a * b, 1);
  const columns = geometry.outSpatial.reduce((a, b) => a * b, 1);
  const out = allocateNumeric(x.dtype, batch * rows * columns);
  const nd = spatial.length;
  const spatialStrides = input.strides.slice(2);
  // Map a flat spatial index back to a strided offset.
  const spatialOffset = (flat: number) => {
    let o = 0;
    for (let d = nd - 1; d >= 0; d--) {
      o += (flat % spatial[d]!) * spatialStrides[d]!;
      flat = Math.floor(flat / spatial[d]!);
    }
    return o;
  };
  for (let b = 0; b < batch; b++) {
    const base = input.offset + b * input.strides[0]!;
    const outBase = b * rows * columns;
    walk(channels, spatial, geometry, (row, column, c, inputFlat) => {
      out[outBase + row * columns + column] =
        inputFlat < 0 ? 0 : input.data[base + c * input.strides[1]! + spatialOffset(inputFlat)]!;
    });
  }
  return finish(x.dtype, out);
}

export function col2im(columns: View, geometry: ConvGeometry, inputShape: readonly number[]): JsStorage {
  const cols = numeric(columns);
  const [batch, channels] = inputShape as [number, number];
  const spatial = inputShape.slice(2);
  const spatialSize = spatial.reduce((a, b) => a * b, 1);
  const out = allocateNumeric(columns.dtype, batch * channels * spatialSize);
  for (let b = 0; b < batch; b++) {
    const base = cols.offset + b * cols.strides[0]!;
    const outBase = b * channels * spatialSize;
    walk(channels, spatial, geometry, (row, column, c, inputFlat) => {
      if (inputFlat >= 0) {
        const target = outBase + c * spatialSize + inputFlat;
        out[target] = out[target]! + cols.data[base + row * cols.strides[1]! + column * cols.strides[2]!]!;
      }
    });
  }
  return finish(columns.dtype, out);
}
