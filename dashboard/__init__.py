"""Streamlit dashboard: the literature's evidence next to the harness's results."""

__all__: list[str] = []
