"""Which worker ran a task: `[core] hostname_callable = worker_identity.hostname`.

Several Celery workers on one machine share its host name; AIRFLOW_WORKER_NAME tells
them apart in each task instance's `hostname` (the UI's and the API's "Hostname").
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    return os.environ.get("AIRFLOW_WORKER_NAME") or socket.getfqdn()
