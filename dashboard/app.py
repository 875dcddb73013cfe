"""Entry script of the dashboard: `dashboard` (or `streamlit run dashboard/app.py`).

One `st.navigation` over four pages; the sidebar shows the data files every
page reads (server configuration: the `dashboard` options / TLMI_* variables,
editable only under `dashboard --allow-path-edit`) and the server's access mode.
Run from the checkout, `streamlit run dashboard/app.py` picks up
`.streamlit/config.toml` (127.0.0.1 only, no usage statistics).

The page scripts live in `app_pages/`, not `pages/`: Streamlit treats a
`pages/` folder next to the entry script as a legacy multipage app and, until
some session has called `st.navigation`, runs a requested page's file alone
(no shared sidebar, no page config) or shows "Page not found".
"""
from __future__ import annotations

import streamlit as st

from dashboard import widgets

st.set_page_config(page_title="Transfer learning in medical imaging", page_icon="🩻",
                   layout="wide")

PAGES = [
    st.Page("app_pages/literature.py", title="Literature", icon=":material/menu_book:", url_path="literature",
            default=True),
    st.Page("app_pages/add_study.py", title="Add a study", icon=":material/post_add:", url_path="add-study"),
    st.Page("app_pages/experiments.py", title="Experiments", icon=":material/science:", url_path="experiments"),
    st.Page("app_pages/side_by_side.py", title="Side by side", icon=":material/compare:", url_path="side-by-side"),
]

page = st.navigation(PAGES)
widgets.paths_sidebar()
page.run()
