# add_weighted_adapter on adapter folders alone: no base model is loaded, one module at a time.
lorakit combine --adapters ./adapter-a,./adapter-b --weights 0.7,0.3 --type ties --density 0.5 --out ./ab-ties
lorakit combine --adapters ./adapter-a,./adapter-b --weights 1,1 --type cat --out ./ab-cat
lorakit combine --adapters ./adapter-a,./adapter-b --weights 0.5,0.5 --type dare_linear --density 0.5 --seed 1 --out ./ab-dare

# Fold an adapter into the base weights: a full checkpoint that loads without PEFT.
lorakit merge --model ./my-model --adapter ./ab-cat --out ./merged --safe
