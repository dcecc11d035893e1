"""Training: LoRA/QLoRA/full fine-tuning (TRL + PEFT), and the tiny base's pretraining recipes."""
