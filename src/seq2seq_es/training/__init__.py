"""Training engine shared by pretraining and fine-tuning, on Accelerate."""
