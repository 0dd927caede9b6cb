"""The nets: graph builders and the one table of their facts.

registry   every net by one name with its facts (image size, preprocessing,
           published checkpoint's classes, units): plain data, no TensorFlow
factory    get_network_fn(name, ...): a registered net under its arg scope
resnet     the one builder (`resnet`), TF-Slim's resnet_v1/v2 nets
blocks, layers, arg_scope, cifar: what the builder is made of
module     a net as a TF2 `tf.Module` (eager, tf.function, tf.distribute)
"""
