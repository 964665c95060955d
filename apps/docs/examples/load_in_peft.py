# Load a lorakit adapter in Python PEFT (run from the folder holding my-model/ and my-adapter/).
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

base = AutoModelForCausalLM.from_pretrained("./my-model")
model = PeftModel.from_pretrained(base, "./my-adapter")  # the folder lorakit's saveAdapter wrote
model.eval()

input_ids = torch.tensor([[1, 20, 12, 9, 11, 25, 3]])
with torch.no_grad():
    logits = model(input_ids=input_ids).logits
print(logits[0, -1, :8].tolist())
