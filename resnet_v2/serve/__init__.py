"""Running a trained net: `features` (end points of image files), `evaluate`
(top-1/top-5, per class, confusion), `export` (SavedModel, OpenVINO, ONNX),
`quantize` (int8 by OpenVINO + NNCF) and `openvino` (that engine)."""
