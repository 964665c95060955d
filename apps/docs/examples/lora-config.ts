import { LoraConfig } from '@lorakit/lora';

/** A LoraConfig with PEFT's common options, written and read in adapter_config.json's format. */
export function loraConfigRoundTrip() {
  // PEFT: LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear",
  //                  rank_pattern={"v_proj": 8}, use_rslora=True, task_type="CAUSAL_LM")
  const config = new LoraConfig({
    r: 16,
    loraAlpha: 32,
    loraDropout: 0.05,
    targetModules: 'all-linear',
    rankPattern: { v_proj: 8 },
    useRslora: true,
    taskType: 'CAUSAL_LM',
  });

  // camelCase in TypeScript, PEFT's snake_case keys in the file — converted in one place.
  const dict = config.toPeftDict();
  console.log(dict.lora_alpha, dict.target_modules, dict.rank_pattern); // 32 all-linear { v_proj: 8 }

  // An adapter_config.json written by Python PEFT reads back the same way.
  const again = LoraConfig.fromPeftDict(dict);
  console.log(again.useRslora, again.scalingFor(16, 32)); // true 8 (= 32 / √16)
  return { dict, again };
}
