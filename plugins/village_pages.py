"""The statisticians' pages on Airflow's api-server: 报表上传 and 报送看板.

The app (``village_reports.pages.app``) is mounted at ``/village-reports`` and listed in
the UI's navigation; the UI shows each page in a frame, with the user's login. Each of
its routes checks Airflow's authorisation itself (a plugin's app is not protected by
Airflow, apache/airflow#72655).
"""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin

from village_reports.pages.app import URL_PREFIX, create_app

CATEGORY = "村级报表"


class VillagePagesPlugin(AirflowPlugin):
    name = "village_pages"
    fastapi_apps: ClassVar[list[dict[str, Any]]] = [
        {"app": create_app(), "url_prefix": URL_PREFIX, "name": "村级报表页面"}
    ]
    external_views: ClassVar[list[dict[str, Any]]] = [
        {
            "name": "报表上传",
            "href": f"{URL_PREFIX}/upload",
            "destination": "nav",
            "category": CATEGORY,
            "url_route": "village-upload",
        },
        {
            "name": "报送看板",
            "href": f"{URL_PREFIX}/dashboard",
            "destination": "nav",
            "category": CATEGORY,
            "url_route": "village-dashboard",
        },
    ]
