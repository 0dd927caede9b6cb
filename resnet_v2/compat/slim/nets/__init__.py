"""tf-slim's ResNet modules (`tf_slim.nets.resnet_utils`, `resnet_v1`,
`resnet_v2`), on this project's builder."""
