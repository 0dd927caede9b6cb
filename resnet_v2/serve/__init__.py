"""Running a trained net, and the files it writes.

model            `Model.load`: the one door from a model dir (or a net and a
                 checkpoint, or published weights) to a runnable net
weights          published ImageNet weights by name: fetched once, cached
convert          weights to and from Keras's ResNet V2
evaluate         top-1/top-5, per class, confusion
features         the features runner: a plan of shards over the images
worker           shards through the net, each written whole (`run_shards`)
ray_distributor  the same worker on a Ray cluster
shards           a features folder's layout (clip-retrieval's), its manifest
export           SavedModel, frozen GraphDef, OpenVINO and ONNX
quantize         int8 by OpenVINO + NNCF
openvino         that engine: converting and running a net
"""
