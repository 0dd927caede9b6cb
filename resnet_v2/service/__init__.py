"""`resnet-v2 serve`: clip-retrieval back's HTTP API over indexed features
folders (`app`), image queries batched through the net (`batcher`)."""
