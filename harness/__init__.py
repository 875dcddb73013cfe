"""The meta-benchmark: four transfer-learning strategies across Keras backbones
on the cardiac short-axis slice-range task of Ho & Kim 2021."""

__all__: list[str] = []
