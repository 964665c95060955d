"""Reference data for @lorakit/models, made with the reference Python stack (torch, transformers, tokenizers).

Run from the repository root:

    .venv-ref/bin/python packages/models/test-data/generate.py

For each tiny model it writes `<case>/config.json` + `<case>/model.safetensors` (transformers'
`save_pretrained`) and `<case>/expected.safetensors` with the inputs, the logits, the loss and the gradient
of the loss with respect to every parameter (`grad.<name>`, names as `named_parameters()`, so a tied weight
appears once under its first name). Some cases also hold greedy generations (`greedy.*`) and optimizer runs
(`optim.safetensors`). `tokenizer/` holds a tiny byte-level BPE trained here and the ids it gives.
Everything is float32 on CPU and seeded; dropout probabilities are 0 so training mode is deterministic.
"""

import json
import os
import shutil

import torch
from safetensors.torch import save_file
from transformers import (
    BertConfig,
    BertForMaskedLM,
    BertForSequenceClassification,
    GPT2Config,
    GPT2ForSequenceClassification,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    LlamaForSequenceClassification,
    MistralConfig,
    MistralForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
)

HERE = os.path.dirname(os.path.abspath(__file__))
torch.set_num_threads(1)


def reset(case):
    path = os.path.join(HERE, case)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def edit_config(path, fn):
    """Rewrites config.json (to exercise the older config forms transformers still reads)."""
    file = os.path.join(path, "config.json")
    with open(file) as f:
        config = json.load(f)
    fn(config)
    with open(file, "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")


def gradients(model, inputs):
    model.zero_grad(set_to_none=True)
    out = model(**inputs)
    out.loss.backward()
    grads = {}
    for name, p in model.named_parameters():
        grads[f"grad.{name}"] = (p.grad if p.grad is not None else torch.zeros_like(p)).detach().clone()
    return out, grads


def save_case(case, model, inputs, extra=None, reload_config_edit=None):
    path = reset(case)
    model.save_pretrained(path)
    for name in ("generation_config.json",):
        if os.path.exists(os.path.join(path, name)):
            os.remove(os.path.join(path, name))
    if reload_config_edit:
        edit_config(path, reload_config_edit)
    model.train()  # dropout p = 0: train mode is deterministic, and it is the mode gradients are taken in
    out, grads = gradients(model, inputs)
    tensors = {k: v.contiguous() for k, v in inputs.items()}
    tensors["logits"] = out.logits.detach().contiguous()
    tensors["loss"] = out.loss.detach().reshape(1)
    tensors.update(grads)
    if extra:
        tensors.update(extra)
    save_file(tensors, os.path.join(path, "expected.safetensors"))
    model.eval()
    return path


def greedy(model, input_ids, attention_mask=None, max_new_tokens=8):
    model.eval()
    with torch.no_grad():
        kwargs = {"attention_mask": attention_mask} if attention_mask is not None else {}
        return model.generate(
            input_ids, do_sample=False, max_new_tokens=max_new_tokens, **kwargs
        )


def causal_inputs(vocab, gen):
    input_ids = torch.randint(3, vocab, (2, 9), generator=gen)
    attention_mask = torch.ones(2, 9, dtype=torch.long)
    attention_mask[0, :2] = 0  # left padding on the first row
    input_ids[0, :2] = 0
    labels = input_ids.clone()
    labels[attention_mask == 0] = -100
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def optimizer_runs(model_class, path, inputs):
    """3 steps of AdamW and of SGD on all parameters with the same batch; parameters after the steps."""
    out = {}
    runs = {
        "adamw": lambda params: torch.optim.AdamW(params, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01),
        "sgd": lambda params: torch.optim.SGD(params, lr=0.1),
    }
    for tag, make in runs.items():
        model = model_class.from_pretrained(path).float()
        model.train()
        optimizer = make(model.parameters())
        losses = []
        for _ in range(3):
            optimizer.zero_grad(set_to_none=True)
            loss = model(**inputs).loss
            losses.append(loss.item())
            loss.backward()
            optimizer.step()
        out[f"{tag}.losses"] = torch.tensor(losses, dtype=torch.float32)
        for name, p in model.named_parameters():
            out[f"{tag}.{name}"] = p.detach().clone().contiguous()
    save_file(out, os.path.join(path, "optim.safetensors"))


def llama_gqa():
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=64, hidden_size=32, intermediate_size=40, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-6, tie_word_embeddings=False,
        bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )
    model = LlamaForCausalLM(config).float()
    gen = torch.Generator().manual_seed(1)
    inputs = causal_inputs(64, gen)
    prompt = torch.randint(3, 64, (1, 5), generator=gen)
    padded_prompt = torch.randint(3, 64, (2, 6), generator=gen)
    padded_mask = torch.ones(2, 6, dtype=torch.long)
    padded_mask[1, :3] = 0
    padded_prompt[1, :3] = 0
    extra = {
        "greedy.prompt": prompt,
        "greedy.ids": greedy(model, prompt, max_new_tokens=10),
        "greedy_padded.prompt": padded_prompt,
        "greedy_padded.attention_mask": padded_mask,
        "greedy_padded.ids": greedy(model, padded_prompt, padded_mask, max_new_tokens=6),
    }
    path = save_case("llama_gqa", model, inputs, extra)
    optimizer_runs(LlamaForCausalLM, path, {"input_ids": inputs["input_ids"], "labels": inputs["labels"],
                                             "attention_mask": inputs["attention_mask"]})


def llama_tied_llama3():
    """Tied embeddings, multi-head (no GQA), explicit head_dim, biases, and llama3 RoPE in the legacy
    `rope_scaling` + top-level `rope_theta` form."""
    torch.manual_seed(1)
    config = LlamaConfig(
        vocab_size=64, hidden_size=32, intermediate_size=40, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=4, head_dim=16, max_position_embeddings=64, tie_word_embeddings=True,
        attention_bias=True, mlp_bias=True, hidden_act="silu",
        rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
                         "high_freq_factor": 4.0, "original_max_position_embeddings": 8},
    )
    model = LlamaForCausalLM(config).float()
    gen = torch.Generator().manual_seed(2)
    input_ids = torch.randint(0, 64, (2, 12), generator=gen)
    inputs = {"input_ids": input_ids, "labels": input_ids.clone()}

    def legacy(c):
        rope = c.pop("rope_parameters")
        c["rope_theta"] = rope.pop("rope_theta")
        c["rope_scaling"] = rope

    save_case("llama_tied_llama3", model, inputs, reload_config_edit=legacy)


def qwen2():
    torch.manual_seed(2)
    config = Qwen2Config(
        vocab_size=64, hidden_size=32, intermediate_size=40, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64, tie_word_embeddings=False,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
    )
    model = Qwen2ForCausalLM(config).float()
    gen = torch.Generator().manual_seed(3)
    input_ids = torch.randint(0, 64, (2, 10), generator=gen)
    labels = input_ids.clone()
    labels[1, 4:] = -100

    def legacy(c):
        c["rope_theta"] = c.pop("rope_parameters")["rope_theta"]

    save_case("qwen2", model, {"input_ids": input_ids, "labels": labels}, reload_config_edit=legacy)


def mistral():
    """A sliding window (4) shorter than the sequence, so the window mask matters."""
    torch.manual_seed(3)
    config = MistralConfig(
        vocab_size=64, hidden_size=32, intermediate_size=40, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=1, max_position_embeddings=64, sliding_window=4, tie_word_embeddings=False,
        bos_token_id=1, eos_token_id=2,
    )
    model = MistralForCausalLM(config).float()
    gen = torch.Generator().manual_seed(4)
    input_ids = torch.randint(3, 64, (2, 10), generator=gen)
    prompt = torch.randint(3, 64, (1, 3), generator=gen)
    extra = {"greedy.prompt": prompt, "greedy.ids": greedy(model, prompt, max_new_tokens=9)}
    save_case("mistral", model, {"input_ids": input_ids, "labels": input_ids.clone()}, extra)


def gpt2():
    torch.manual_seed(4)
    config = GPT2Config(
        vocab_size=64, n_embd=32, n_layer=2, n_head=4, n_positions=64, resid_pdrop=0.0, embd_pdrop=0.0,
        attn_pdrop=0.0, bos_token_id=1, eos_token_id=2,
    )
    model = GPT2LMHeadModel(config).float()
    gen = torch.Generator().manual_seed(5)
    inputs = causal_inputs(64, gen)
    prompt = torch.randint(3, 64, (1, 4), generator=gen)
    extra = {"greedy.prompt": prompt, "greedy.ids": greedy(model, prompt, max_new_tokens=10)}
    save_case("gpt2", model, inputs, extra)


def bert_mlm():
    torch.manual_seed(5)
    config = BertConfig(
        vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=40,
        max_position_embeddings=32, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
    )
    model = BertForMaskedLM(config).float()
    gen = torch.Generator().manual_seed(6)
    input_ids = torch.randint(1, 64, (2, 8), generator=gen)
    attention_mask = torch.ones(2, 8, dtype=torch.long)
    attention_mask[1, 5:] = 0
    input_ids[1, 5:] = 0
    token_type_ids = torch.zeros(2, 8, dtype=torch.long)
    token_type_ids[:, 4:] = 1
    labels = torch.full((2, 8), -100, dtype=torch.long)
    labels[0, 1] = 7
    labels[0, 6] = 11
    labels[1, 2] = 5
    save_case("bert_mlm", model, {"input_ids": input_ids, "attention_mask": attention_mask,
                                  "token_type_ids": token_type_ids, "labels": labels})


def bert_seqcls():
    torch.manual_seed(6)
    config = BertConfig(
        vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=40,
        max_position_embeddings=32, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, num_labels=3,
    )
    model = BertForSequenceClassification(config).float()
    gen = torch.Generator().manual_seed(7)
    input_ids = torch.randint(1, 64, (3, 7), generator=gen)
    attention_mask = torch.ones(3, 7, dtype=torch.long)
    attention_mask[0, 4:] = 0
    attention_mask[2, 6:] = 0
    input_ids[attention_mask == 0] = 0
    labels = torch.tensor([2, 0, 1])
    save_case("bert_seqcls", model, {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels})


def llama_seqcls():
    """`score` read at each row's last non-padding token (left and right padding), 3 labels."""
    torch.manual_seed(7)
    config = LlamaConfig(
        vocab_size=48, hidden_size=32, intermediate_size=40, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=32, pad_token_id=0, num_labels=3,
    )
    model = LlamaForSequenceClassification(config).float()
    gen = torch.Generator().manual_seed(8)
    input_ids = torch.randint(1, 48, (3, 7), generator=gen)
    attention_mask = torch.ones(3, 7, dtype=torch.long)
    attention_mask[0, 5:] = 0  # right padding
    attention_mask[2, :2] = 0  # left padding
    input_ids[attention_mask == 0] = 0
    labels = torch.tensor([1, 2, 0])
    save_case("llama_seqcls", model, {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels})


def gpt2_regression():
    """GPT2ForSequenceClassification with one label: regression (MSE) on float labels."""
    torch.manual_seed(8)
    config = GPT2Config(
        vocab_size=48, n_embd=32, n_layer=2, n_head=4, n_positions=32, n_inner=64, resid_pdrop=0.0,
        embd_pdrop=0.0, attn_pdrop=0.0, pad_token_id=47, num_labels=1,
    )
    model = GPT2ForSequenceClassification(config).float()
    gen = torch.Generator().manual_seed(9)
    input_ids = torch.randint(0, 47, (2, 6), generator=gen)
    input_ids[1, 4:] = 47
    labels = torch.tensor([0.5, -1.25])
    save_case("gpt2_regression", model, {"input_ids": input_ids, "labels": labels})


def tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    path = reset("tokenizer")
    corpus = [
        "LoRA adapts a frozen model with low-rank updates.",
        "The quick brown fox jumps over the lazy dog.",
        "Tokenizers split text into pieces; models read the pieces as ids.",
        "Low-rank adaptation trains two small matrices per layer.",
        "Hello world! Hello, lorakit.",
    ]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=300, min_frequency=2, special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(corpus, trainer)
    tok.save(os.path.join(path, "tokenizer.json"))
    with open(os.path.join(path, "tokenizer_config.json"), "w") as f:
        json.dump({"eos_token": "<|endoftext|>", "bos_token": "<|endoftext|>", "model_max_length": 64}, f, indent=2)
        f.write("\n")
    samples = [
        "Hello world!",
        "LoRA adapts low-rank matrices.",
        "unseen wörds & émojis 🙂",
        "The lazy dog<|endoftext|>",
    ]
    expected = {
        "vocab_size": tok.get_vocab_size(with_added_tokens=True),
        "samples": [
            {
                "text": s,
                "ids": tok.encode(s).ids,
                "tokens": tok.encode(s).tokens,
                "decoded": tok.decode(tok.encode(s).ids, skip_special_tokens=False),
                "decoded_skip_special": tok.decode(tok.encode(s).ids, skip_special_tokens=True),
            }
            for s in samples
        ],
    }
    with open(os.path.join(path, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    llama_gqa()
    llama_tied_llama3()
    qwen2()
    mistral()
    gpt2()
    bert_mlm()
    bert_seqcls()
    llama_seqcls()
    gpt2_regression()
    tokenizer()
    for case in sorted(os.listdir(HERE)):
        full = os.path.join(HERE, case)
        if os.path.isdir(full):
            sizes = {f: os.path.getsize(os.path.join(full, f)) for f in sorted(os.listdir(full))}
            print(case, sizes)
