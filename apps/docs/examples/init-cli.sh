# PiSSA: the adapter takes each weight's top-r singular components; the residual base is saved too, and
# the adapter is saved as plain LoRA of that residual base.
lorakit init --method pissa --model ./my-model --r 4 --target-modules q_proj,v_proj --out ./pissa-init
# Train it on its residual base, then convert it to plain LoRA for the original model.
lorakit train --model ./pissa-init/residual-base --adapter ./pissa-init --data train.jsonl --max-steps 5 --out ./pissa-trained
lorakit convert --initial ./pissa-init --trained ./pissa-trained --out ./pissa-as-lora

# OLoRA (QR), EVA and CorDA (both calibrate on --data), LoftQ (4-bit aware).
lorakit init --method olora --model ./my-model --r 4 --out ./olora-init
lorakit init --method eva --model ./my-model --data train.txt --r 4 --target-modules all-linear --out ./eva-init
lorakit init --method corda --model ./my-model --data train.txt --corda-method kpm --r 4 --out ./corda-init
lorakit init --method loftq --model ./my-model --loftq-bits 4 --loftq-iter 2 --r 4 --out ./loftq-init
