# Hold out 10 % for an eval loss every 10 steps; save a checkpoint every 10 steps.
lorakit train --model ./my-model --data train.jsonl --out ./run \
  --r 16 --alpha 32 --target-modules all-linear \
  --max-steps 20 --batch-size 8 --lr 5e-3 --schedule cosine --warmup-steps 2 \
  --eval-split 0.1 --eval-every 10 --save-every 10 --seed 7

# A run that stopped (Ctrl-C also saves a checkpoint) continues exactly from a checkpoint: the same
# command plus --resume (same data order, optimizer and schedule state; other settings are refused).
lorakit train --model ./my-model --data train.jsonl --out ./run-resumed \
  --r 16 --alpha 32 --target-modules all-linear \
  --max-steps 20 --batch-size 8 --lr 5e-3 --schedule cosine --warmup-steps 2 \
  --eval-split 0.1 --eval-every 10 --save-every 10 --seed 7 \
  --resume ./run/checkpoint-10

# Scripts read one JSON object instead of text.
lorakit --json inspect ./run-resumed
