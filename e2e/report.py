"""Render the real-pod tier's last report (`$MODELPLANE_CACHE/reports/real-tier.json`, written
by e2e/test_samples_real.py) into the table of docs/e2e.md: `python -m e2e.report`."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from tests.support.controlplane import cache_dir

DOC = Path(__file__).resolve().parents[1] / "docs" / "e2e.md"
BEGIN, END = "<!-- real-tier table: begin -->", "<!-- real-tier table: end -->"


def table(report: dict[str, object]) -> str:
    samples = report["samples"]
    assert isinstance(samples, dict)
    lines = [
        f"Measured {report['when']} (`make test`, 2 cores).",
        "",
        "| sample | kind | apply → Ready | through the Ingress | through its Service | gRPC (Service) |",
        "| --- | --- | ---: | --- | --- | --- |",
    ]
    for name, row in samples.items():
        answers = row["answers"]
        cells = [answers.get(p, "—").replace("|", "\\|") for p in ("ingress", "service", "grpc")]
        lines.append(
            f"| {name} | {row['kind']} | {row['ready_seconds']:.1f} s | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


def main() -> int:
    report = json.loads((cache_dir() / "reports" / "real-tier.json").read_text())
    text = DOC.read_text()
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    DOC.write_text(pattern.sub(lambda _: f"{BEGIN}\n{table(report)}\n{END}", text))
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
