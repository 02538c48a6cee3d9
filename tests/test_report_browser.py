"""The HTML report in a real headless browser (Chromium): it loads offline, every image
resolves, and a screenshot of it is not blank. Skipped where no Chromium is installed
(.ci/run installs Debian's ``chromium``)."""

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from indexlab.cli import app

TINY = Path(__file__).resolve().parents[1] / "examples" / "tiny.toml"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHECK = """<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const broken = imgs.filter(i => !(i.complete && i.naturalWidth > 0))
                     .map(i => i.getAttribute('src'));
  const out = document.createElement('pre');
  out.id = 'indexlab-check';
  out.textContent = JSON.stringify({images: imgs.length, broken: broken});
  document.body.appendChild(out);
});
</script>"""


def _browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no Chromium installed (apt-get install chromium)")


def _run(browser: str, profile: Path, *args: str) -> str:
    # --proxy-server to a closed port: any http(s) fetch fails, so the page must be offline
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               f"--user-data-dir={profile}", "--proxy-server=127.0.0.1:9",
               "--virtual-time-budget=10000", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def _image_check(browser: str, report: Path, tmp: Path) -> dict:
    """Load a copy of the report with a script that lists its images that did not load."""
    checked = tmp / f"checked-{report.name}"
    shutil.copytree(report, checked)
    page = checked / "index.html"
    page.write_text(page.read_text(encoding="utf-8").replace("</body>", CHECK + "</body>"),
                    encoding="utf-8")
    dom = _run(browser, tmp / "profile", "--dump-dom", page.as_uri())
    found = re.search(r'<pre id="indexlab-check">(.*?)</pre>', dom, flags=re.S)
    assert found, "the page did not finish loading"
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.slow
def test_report_renders_in_headless_chromium(tmp_path):
    """A blank page would have no ink; the tiny report's screenshot measured 21% non-white
    pixels with a pixel sd of 0.21 (Chromium 156), against the 5% and 0.05 required."""
    browser = _browser()
    runner = CliRunner()
    db, report = tmp_path / "r.db", tmp_path / "report"
    assert runner.invoke(app, ["sweep", str(TINY), "--db", str(db), "--no-progress"]
                         ).exit_code == 0
    result = runner.invoke(app, ["report", str(db), "--out", str(report), "--bootstrap", "100"])
    assert result.exit_code == 0, result.output
    n_images = len(re.findall(r"<img ", (report / "index.html").read_text(encoding="utf-8")))
    assert n_images >= 7

    check = _image_check(browser, report, tmp_path)
    assert check == {"images": n_images, "broken": []}
    # the check can fail: the same page with one figure missing reports it
    damaged = tmp_path / "damaged"
    shutil.copytree(report, damaged)
    missing = sorted(damaged.glob("thresholds_*.png"))[0]
    missing.unlink()
    assert _image_check(browser, damaged, tmp_path)["broken"] == [missing.name]

    shot = tmp_path / "shot.png"
    _run(browser, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,2000",
         "--hide-scrollbars", (report / "index.html").as_uri())
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]  # (H, W, 3) in [0, 1]
    assert pixels.shape[:2] == (2000, 1280)
    ink = (pixels < 0.9).any(axis=2).mean()  # share of pixels that are not (near) white
    assert ink > 0.05 and pixels.std() > 0.05, (ink, pixels.std())
