"""Benchmarks of the resnet_v2 nets: `python -m benchmarks --help`."""
