"""Training: the loop and its config (`trainer`, `loop`, `config`),
tf.distribute strategies and the shared-model-dir check (`distribute`),
fine-tuning selection (`finetune`).

Importing this package before TensorFlow turns oneDNN on where training
was measured faster with it (`cpu.choose_onednn`: AVX2-only CPUs, where
TensorFlow leaves it off), unless TF_ENABLE_ONEDNN_OPTS is set;
`ONEDNN_CHOICE` says what was done and why.
"""

from resnet_v2 import cpu as _cpu

ONEDNN_CHOICE = _cpu.use_fastest_onednn('train')
