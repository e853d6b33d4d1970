"""Failed workers become notifications and log lines.

Every engine command runs in a worker with `exit_on_error=False`; when one raises, Textual sends
`Worker.StateChanged` to the node that started it, without bubbling. Each node that starts
engine workers (the app and the screens) mixes this in so no error goes unseen.
"""

from __future__ import annotations

from typing import Any

from textual.worker import Worker, WorkerState


class ReportsWorkerErrors:
    app: Any

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state is WorkerState.ERROR and worker.error is not None:
            self.app.report_error(worker.name or "Something", worker.error)
