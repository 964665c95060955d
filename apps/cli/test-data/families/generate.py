"""Tiny checkpoints for the CLI tests of the newer model families, saved by transformers' save_pretrained.

    .venv-ref/bin/python apps/cli/test-data/families/generate.py

Writes t5/ (T5ForConditionalGeneration, v1.1 gated-gelu), phi3/ (Phi3ForCausalLM) and bert-cls/
(BertForSequenceClassification, labels "neg"/"pos") beside this script, each with the demo's character-level
tokenizer (tokenizer.json + tokenizer_config.json from apps/cli/demo/base: <pad> 0, <s> 1, </s> 2, 32 ids).
"""
import os
import shutil

import torch
import transformers

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO = os.path.join(HERE, "..", "..", "demo", "base")
VOCAB = 32


def save(model, name):
    out = os.path.join(HERE, name)
    shutil.rmtree(out, ignore_errors=True)
    model.save_pretrained(out)
    for file in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(DEMO, file), os.path.join(out, file))
    print("ok  ", name, sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out)), "bytes")


torch.manual_seed(0)
save(transformers.T5ForConditionalGeneration(transformers.T5Config(
    vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=4,
    relative_attention_num_buckets=8, relative_attention_max_distance=16, feed_forward_proj="gated-gelu",
    tie_word_embeddings=False, dropout_rate=0.0, pad_token_id=0, eos_token_id=2, decoder_start_token_id=0)), "t5")
torch.manual_seed(1)
save(transformers.Phi3ForCausalLM(transformers.Phi3Config(
    vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
    num_key_value_heads=2, max_position_embeddings=64, original_max_position_embeddings=64, pad_token_id=0,
    bos_token_id=1, eos_token_id=2, sliding_window=None)), "phi3")
torch.manual_seed(2)
save(transformers.BertForSequenceClassification(transformers.BertConfig(
    vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
    max_position_embeddings=64, pad_token_id=0, id2label={0: "neg", 1: "pos"}, label2id={"neg": 0, "pos": 1},
    hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)), "bert-cls")
