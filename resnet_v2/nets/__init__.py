"""The nets: graph builders and the one table of their facts.

registry   every net by one name with its facts (image size, preprocessing,
           published checkpoint's classes, blocks of units per stage):
           plain data, no TensorFlow
factory    get_network_fn(name, ...): a registered net under its arg scope
resnet     the one builder (`resnet`), TF-Slim's resnet_v1/v2 nets
blocks, units, layers, normalize, arg_scope, cifar: what the builder is
           made of (Block and stack_blocks_dense, the residual units, the
           slim layers, batch norm, the one arg scope, the CIFAR nets)
platform   the machine's facts, handed in (nets import no runtime)
module     a net as a TF2 `tf.Module` (eager, tf.function, tf.distribute)
"""
