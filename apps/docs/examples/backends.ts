import '@lorakit/cpu-backend'; // registers `cpu` (priority 10) when its native addon is built
import { getBackend, listBackends, randn, withBackend } from '@lorakit/tensor';

/** Which backends are there, which one new tensors use, and how to pick one for part of a program. */
export function backends() {
  // Highest priority first: cuda (20, with @lorakit/cuda-backend and a GPU) > cpu (10) > js (0).
  console.log(listBackends()); // e.g. [ { name: 'cpu', priority: 10 }, { name: 'js', priority: 0 } ]

  // New tensors go to the highest-priority backend unless you say otherwise.
  const x = randn([256, 256]);
  console.log(x.backend.name); // 'cpu' when the addon is built, else 'js'

  // Part of a program on the JavaScript reference backend (setDefaultBackend('js') for all of it):
  const reference = withBackend('js', () => {
    const a = x.toBackend('js'); // data moves only when you ask
    return a.matmul(a);
  });
  const fast = x.matmul(x);
  const difference = fast.toBackend('js').sub(reference).abs().max().item();
  console.log(`max |cpu − js| = ${difference.toExponential(1)}`); // float32 rounding, about 1e-5
  return { registered: listBackends(), defaultBackend: getBackend().name, difference };
}
