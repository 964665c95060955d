# One PEFT row of the GPU benchmark (benchmarks/src/llama-gpu.bench.ts), in its own process so that its
# peak memory is its own. The row comes as JSON in LORAKIT_PEFT_ROW: config (a Hugging Face config dict with
# model_type), batch, sequence, steps, warmup, checkpointing, dora, compiled, forward, targets. Prints
# progress lines on stderr and one JSON object as its last stdout line; a failure is reported in the
# object's "error" (with what was measured before it) and the exit status stays 0.
import json
import os
import sys
import time
import traceback

row = json.loads(os.environ["LORAKIT_PEFT_ROW"])
# LORAKIT_PEFT_DEVICE=cpu runs the row on the CPU (a smoke test of this script on a machine without a GPU).
device = os.environ.get("LORAKIT_PEFT_DEVICE", "cuda")
out = {}
started = time.perf_counter()


def log(message):
    print(f"[peft {time.strftime('%H:%M:%S')} +{time.perf_counter() - started:.0f}s] {message}", file=sys.stderr, flush=True)


def median(xs):
    return sorted(xs)[len(xs) // 2]


stage = "import"
try:
    import torch
    import transformers
    import peft as peft_package
    from transformers import AutoConfig, AutoModelForCausalLM
    from peft import LoraConfig, get_peft_model

    on_gpu = device == "cuda"
    out["device"] = torch.cuda.get_device_name() if on_gpu else "cpu"

    def synchronize():
        if on_gpu:
            synchronize()

    out["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft_package.__version__}
    stage = "model"
    cfg = dict(row["config"])
    config = AutoConfig.for_model(cfg.pop("model_type"), **cfg)
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config).to(torch.bfloat16)
    out["attention"] = getattr(model.config, "_attn_implementation", None)
    if row["checkpointing"]:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    lora = LoraConfig(r=16, lora_alpha=32, target_modules=row["targets"], use_dora=row["dora"])
    model = get_peft_model(model, lora)
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    generator = torch.Generator(device=device).manual_seed(0)
    ids = torch.randint(0, cfg["vocab_size"], (row["batch"], row["sequence"]), device=device, generator=generator)
    fwd = torch.compile(model) if row["compiled"] else model
    log(f"model ready ({out['attention']} attention), {'compiled' if row['compiled'] else 'eager'}")

    def step():
        opt.zero_grad(set_to_none=True)
        loss = fwd(input_ids=ids, labels=ids, use_cache=False).loss
        loss.backward()
        opt.step()
        return loss

    stage = "warmup (compilation)" if row["compiled"] else "warmup"
    t = time.perf_counter()
    for i in range(row["warmup"]):
        step()
        synchronize()
        if i == 0:
            out["firstStepS"] = time.perf_counter() - t
            log(f"first step {out['firstStepS']:.1f} s")
    stage = "train steps"
    if on_gpu:
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(row["steps"]):
        t = time.perf_counter()
        loss = step()
        synchronize()
        times.append((time.perf_counter() - t) * 1000)
    out["stepsMs"] = times
    out["trainMs"] = median(times)
    out["peakGiB"] = torch.cuda.max_memory_allocated() / 2**30 if on_gpu else 0.0
    out["loss"] = loss.item()
    log(f"train step {out['trainMs']:.1f} ms, peak {out['peakGiB']:.1f} GiB, loss {out['loss']:.3f}")

    if row["forward"]:
        stage = "forward"
        model.eval()

        def timed(fn):
            fn()
            synchronize()
            ts = []
            for _ in range(row["steps"]):
                t = time.perf_counter()
                fn()
                synchronize()
                ts.append((time.perf_counter() - t) * 1000)
            return median(ts)

        with torch.no_grad():
            out["forwardUnmergedMs"] = timed(lambda: model(input_ids=ids, use_cache=False))
            synchronize()
            t = time.perf_counter()
            merged = model.merge_and_unload()
            synchronize()
            out["mergeMs"] = (time.perf_counter() - t) * 1000
            out["forwardMergedMs"] = timed(lambda: merged(input_ids=ids, use_cache=False))
        log(f"forward unmerged {out['forwardUnmergedMs']:.1f} ms, merged {out['forwardMergedMs']:.1f} ms, merge {out['mergeMs']:.1f} ms")
except Exception as error:  # noqa: BLE001 — the row reports any failure and the benchmark goes on
    message = str(error).strip().splitlines()
    out["error"] = f"{stage}: {type(error).__name__}: {message[0] if message else ''}"[:600]
    traceback.print_exc(file=sys.stderr)
print(json.dumps(out), flush=True)
