"""Training: the loop and its config (`trainer`), tf.distribute strategies
and the shared-model-dir check (`distribute`), fine-tuning selection
(`finetune`)."""
