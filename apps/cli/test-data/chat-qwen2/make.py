"""Writes the chat fixtures of the CLI tests (run with the reference stack: .venv-ref/bin/python make.py).

- model/: a tiny Qwen2ForCausalLM with a byte-level BPE tokenizer (the special tokens of Qwen2's chat
  format) and the chat template of Qwen/Qwen2-0.5B-Instruct's tokenizer_config.json, saved by transformers.
- expected.json: for each template (Qwen2's ChatML and Meta-Llama-3-8B-Instruct's), conversations, the
  text transformers' apply_chat_template renders (with and without add_generation_prompt), and for the
  Qwen2 model the token ids apply_chat_template(tokenize=True) returns.
"""

import json
import pathlib

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

HERE = pathlib.Path(__file__).parent

# Qwen/Qwen2-0.5B-Instruct, tokenizer_config.json "chat_template".
QWEN2 = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
# meta-llama/Meta-Llama-3-8B-Instruct, tokenizer_config.json "chat_template".
LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
    "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)

CONVERSATIONS = [
    [
        {"role": "user", "content": "What is 2 + 3?"},
        {"role": "assistant", "content": "2 + 3 = 5."},
    ],
    [
        {"role": "system", "content": "You answer in one word."},
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris"},
        {"role": "user", "content": "And of Italy?"},
        {"role": "assistant", "content": "Rome"},
    ],
]

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
corpus = [
    "You are a helpful assistant. What is 2 + 3? 2 + 3 = 5.",
    "Capital of France? Paris. And of Italy? Rome. You answer in one word.",
    "system user assistant hello world the quick brown fox jumps over the lazy dog 0123456789",
] * 4
tokenizer = Tokenizer(models.BPE())
tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tokenizer.decoder = decoders.ByteLevel()
tokenizer.train_from_iterator(
    corpus,
    trainers.BpeTrainer(
        vocab_size=400, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    ),
)
fast = PreTrainedTokenizerFast(
    tokenizer_object=tokenizer,
    eos_token="<|im_end|>",
    pad_token="<|endoftext|>",
    chat_template=QWEN2,
)
model_dir = HERE / "model"
fast.save_pretrained(model_dir)
# Keep the template inside tokenizer_config.json, where most Hub models have it.
config_path = model_dir / "tokenizer_config.json"
tokenizer_config = json.loads(config_path.read_text())
tokenizer_config["chat_template"] = QWEN2
config_path.write_text(json.dumps(tokenizer_config, indent=2) + "\n")
(model_dir / "chat_template.jinja").unlink(missing_ok=True)

torch.manual_seed(0)
config = Qwen2Config(
    vocab_size=len(fast),
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=256,
    tie_word_embeddings=True,
    eos_token_id=fast.convert_tokens_to_ids("<|im_end|>"),
    pad_token_id=fast.convert_tokens_to_ids("<|endoftext|>"),
)
Qwen2ForCausalLM(config).save_pretrained(model_dir)

expected = {"templates": []}
for name, template, tokens in [
    ("qwen2", QWEN2, {}),
    ("llama3", LLAMA3, {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}),
]:
    renderer = PreTrainedTokenizerFast(tokenizer_object=tokenizer, chat_template=template, **tokens)
    cases = []
    for messages in CONVERSATIONS:
        case = {
            "messages": messages,
            "text": renderer.apply_chat_template(messages, tokenize=False),
            "prompt": renderer.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True),
        }
        if name == "qwen2":
            ids = fast.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]
            case["ids"] = list(ids)
        cases.append(case)
    expected["templates"].append({"name": name, "template": template, "tokens": tokens, "cases": cases})
(HERE / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
print("wrote", model_dir, "and expected.json")
