"""From a features folder to answers: a FAISS index over one end point
(`index`), the nearest images to a query (`Index.search`), near-duplicate
groups and train/test leaks (`dedup`), and linear and k-NN probes of the
features (`probe`). Everything reads the folder `resnet-v2 features
--output DIR` wrote (`vectors`), shard by shard."""
