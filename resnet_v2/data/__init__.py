"""The input pipeline: sources (class folders, TFRecords, CIFAR batches,
image files) -> decoded, preprocessed `tf.data` batches. Reads a net's facts
(preprocessing name, image size, pixel mean) as plain values; never imports
the nets."""
