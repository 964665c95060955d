# What is in the folder: architecture, sizes, and the linear modules LoRA can target.
lorakit inspect ./my-model

# LoRA on q_proj and v_proj; train.jsonl holds {"prompt": …, "completion": …} lines.
lorakit train --model ./my-model --data train.jsonl \
  --r 8 --alpha 16 --target-modules q_proj,v_proj \
  --max-steps 20 --batch-size 8 --lr 1e-2 --out ./my-adapter

# The adapter folder is a PEFT adapter: inspect it, generate with it.
lorakit inspect ./my-adapter
lorakit generate --model ./my-model --adapter ./my-adapter --prompt "shift: hello|" --max-new-tokens 6
