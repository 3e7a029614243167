"""Hot reload: `start-api` and `start-lambda` watch what the build reads, and the template.

A change of a function's code, its layers' sources or the packaging is built again (`sam build
--cached`: what did not change is copied from the cache) and the environments of the functions whose
code changed are retired once their invocations in flight finish (emulator/environment.py,
`FunctionPool.retire`): the next invocation is a cold start on the new code, as after an
`UpdateFunctionCode` on AWS. A change of the template itself — routes, resources, roles, which are
read once at start — restarts the command, which says so. Watching is polling (twice a second, a
stat per file): no dependency, the same on every host.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from workbench.emulator.build import BuildError, source_files
from workbench.emulator.service import LocalService

POLL_S = 0.5
SETTLE_S = 0.3  # an editor's save is several writes: wait until the files stop changing

Signature = dict[Path, tuple[int, int]]


def signature(paths: list[Path]) -> Signature:
    """Each file's modification time and size, of the files under `paths` the build reads."""
    seen: Signature = {}
    for root in paths:
        for path in source_files(root) if root.exists() else []:
            try:
                status = path.stat()
            except FileNotFoundError:  # removed while we looked: the next look sees it gone
                continue
            seen[path] = (status.st_mtime_ns, status.st_size)
    return seen


def say(line: str) -> None:
    print(line, file=sys.stderr)


class Reloader:
    """The watch of one service's sources; `restart` is called (once) with the reason when the template changes."""

    def __init__(
        self,
        service: LocalService,
        restart: Callable[[str], None],
        *,
        report: Callable[[str], None] = say,
        poll_s: float = POLL_S,
    ) -> None:
        self.service, self.restart, self.report, self.poll_s = service, restart, report, poll_s
        self.template = service.app.template_path
        self.sources = service.build.inputs()
        self._thread: threading.Thread | None = None

    def describe(self) -> str:
        folders = ", ".join(str(p.relative_to(self.template.parent)) for p in self.sources)
        return f"Watching {self.template.name} and {folders} (--no-watch: off)"

    def start(self, stop: threading.Event) -> None:
        self.report(self.describe())
        self._thread = threading.Thread(target=self._watch, args=(stop,), name="reload", daemon=True)
        self._thread.start()

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def _watch(self, stop: threading.Event) -> None:
        template, sources = signature([self.template]), signature(self.sources)
        while not stop.wait(self.poll_s):
            now_template, now_sources = signature([self.template]), signature(self.sources)
            if now_template == template and now_sources == sources:
                continue
            while not stop.wait(SETTLE_S):  # until a look finds nothing new
                settled = signature([self.template]), signature(self.sources)
                if settled == (now_template, now_sources):
                    break
                now_template, now_sources = settled
            if now_template != template:
                self.restart(f"{self.template.name} changed: routes, resources and roles are read at start")
                return
            sources = now_sources
            self._rebuild()

    def _rebuild(self) -> None:
        started = time.perf_counter()
        try:
            changed = self.service.rebuild()
        except BuildError as error:  # the old code keeps serving; the next change tries again
            self.report(f"reload: the build failed, the previous code keeps serving: {error}")
            return
        took = time.perf_counter() - started
        if not changed:
            self.report(f"reload: rebuilt in {took:.1f} s, no function's code changed")
            return
        self.report(
            f"reload: {', '.join(sorted(changed))} rebuilt in {took:.1f} s; their environments retire after the "
            "invocations in flight, the next invocation is a cold start on the new code"
        )
