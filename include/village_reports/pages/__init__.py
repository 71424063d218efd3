"""The statisticians' pages on Airflow's api-server (``plugins/village_pages.py``).

``app``: the FastAPI app, its routes and their security; ``uploads``: receiving files
(names, content, duplicates, the checks, the inbox, the 回执), without the web framework;
``multipart``: the form read within its limits; ``dashboard``: what the dashboard reads,
through the analysts' views in ``sql/pages/``.
"""
