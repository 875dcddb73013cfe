"""The living systematic review of Kim et al. 2022 (BMC Med Imaging 22:69).

Light on imports on purpose: `review` must start fast and never pull in
TensorFlow or Streamlit.
"""

__all__: list[str] = []
