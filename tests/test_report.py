"""`cellsim report`: one self-contained HTML page that a headless browser opens with every image
loaded and nothing fetched."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from cellsim.cli import main

SHORT = '{"episode_hours": 3, "start_hour": 9}'  # 12 steps: the reference stays quick
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]  # fmt: skip
COUNT_IMAGES = (
    '<script>window.addEventListener("load", () => {const i = [...document.images];'
    'document.body.setAttribute("data-images", i.filter(x => x.complete && x.naturalWidth > 0)'
    '.length + "/" + i.length)});</script></body>'
)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    argv = ["report", "--scenario", "hex7", "--agents", "rule-son", "--episodes", "1",
            "--config", SHORT, "--time", "10:00", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    return out


def test_report_is_self_contained(report):
    page = report.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", page)
    images = re.findall(r'<img src="([^"]+)"', page)
    # before/after, server map, an SINR map per agent (3), KPIs over the day, 2 CDFs
    assert len(images) == 8
    assert all(src.startswith("data:image/png;base64,") for src in images)
    for heading in ("Comparison", "Before/after", "SINR maps per agent", "<table>"):
        assert heading in page
    for agent in ("rule-geometric", "rule-son", "reference"):
        assert f"<td>{agent}</td>" in page


def _chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and os.environ.get("CI", "").lower() == "true":
        pytest.fail("chromium is not installed: CI must run `make browser` (.ci/run does)")
    return found


def test_report_opens_in_a_headless_browser_with_every_image_loaded(report, tmp_path):
    chromium = _chromium()
    if chromium is None:
        pytest.skip("chromium not installed (make browser installs it)")
    probe = tmp_path / "probe.html"
    probe.write_text(report.read_text(encoding="utf-8").replace("</body>", COUNT_IMAGES))
    command = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
               "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()]  # fmt: skip
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120).stdout
    assert 'data-images="8/8"' in dom


@pytest.mark.parametrize(
    "argv",
    [
        ["report", "--agents", "rule-son", "--out", "report.pdf"],
        ["report", "--agents", "nope", "--out", "r.html"],
        ["report", "--agents", "rule-son", "--episodes", "0"],
        ["report", "--agents", "rule-son", "--time", "24:00"],
    ],
)
def test_bad_report_arguments_are_one_line(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        raise SystemExit(main(argv))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    assert not (tmp_path / "r.html").exists()
