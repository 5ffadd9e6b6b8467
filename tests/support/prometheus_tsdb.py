"""A real Prometheus on loopback, loaded with series a test writes (OpenMetrics -> promtool -> TSDB blocks).

``promtool tsdb create-blocks-from openmetrics FILE DIR`` turns an OpenMetrics text (samples with timestamps in
seconds, ``# EOF`` at the end) into TSDB blocks; ``prometheus --storage.tsdb.path=DIR`` with an empty scrape
configuration then answers ``/api/v1/query`` over them. Used by the decommission gate's tests.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from http import HTTPStatus
from pathlib import Path

STEP = 60


@dataclasses.dataclass(frozen=True)
class Series:
    """One series: ``value(t)`` at every step from ``start`` to ``end`` (None: no sample, as after a deletion)."""

    name: str
    labels: Mapping[str, str]
    start: int
    end: int
    value: object  # Callable[[int], float | None]

    def lines(self) -> Iterator[tuple[int, str]]:
        lbl = ",".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()))
        for t in range(self.start - self.start % STEP, self.end + 1, STEP):
            v = self.value(t)  # type: ignore[operator]
            if v is not None:
                yield t, f"{self.name}{{{lbl}}} {v} {t}"


def openmetrics(series: Iterable[Series]) -> str:
    """The OpenMetrics text: series grouped by metric family (the format wants each family contiguous)."""
    by_name: dict[str, list[str]] = {}
    for s in series:
        by_name.setdefault(s.name, []).extend(line for _, line in sorted(s.lines()))
    out = []
    for name, lines in by_name.items():
        out.append(f"# TYPE {name} {'counter' if name.endswith('_total') else 'gauge'}")
        out.extend(lines)
    return "\n".join(out) + "\n# EOF\n"


def require() -> None:
    missing = [t for t in ("prometheus", "promtool") if shutil.which(t) is None]
    if missing:
        raise RuntimeError(f"missing {', '.join(missing)}: apt-get install prometheus")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def loaded_prometheus(text: str) -> Iterator[str]:
    """A Prometheus on 127.0.0.1 serving ``text``'s samples; yields its base URL."""
    require()
    d = Path(tempfile.mkdtemp(prefix="gate-prom-"))
    proc = None
    try:
        (d / "series.om").write_text(text)
        # Blocks of up to 24 h keep the count (and Prometheus's start) small for a day of samples.
        subprocess.run(
            [
                "promtool",
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                "--max-block-duration=24h",
                str(d / "series.om"),
                str(d / "data"),
            ],
            check=True,
            capture_output=True,
        )
        (d / "prometheus.yml").write_text("global: {}\n")
        port = _free_port()
        proc = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={d / 'prometheus.yml'}",
                f"--storage.tsdb.path={d / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=30d",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(d / "prometheus.log").open("wb"),
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as r:
                    if r.status == HTTPStatus.OK:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("prometheus did not start: " + (d / "prometheus.log").read_text()[-2000:])
            time.sleep(0.1)
        yield url
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(d, ignore_errors=True)


def instant(url: str, expr: str, at: float) -> list[dict[str, object]]:
    q = urllib.parse.urlencode({"query": expr, "time": str(at)})
    with urllib.request.urlopen(f"{url}/api/v1/query?{q}", timeout=30) as r:
        return list(json.load(r)["data"]["result"])
