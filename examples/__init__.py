"""Worked examples of the resnet_v2 package."""
