"""tensorflow/models' `research/slim/nets` ResNet modules (`resnet_utils`,
`resnet_v1`, `resnet_v2`): its defaults (`spatial_squeeze=True`), its
positional order and exactly its end points, on this project's builder."""
