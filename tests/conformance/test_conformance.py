"""feedsvc against the real Jekyll 4.3 + jekyll-feed 0.17, post by post and feed by feed.

Both programs build the corpus of this folder (``site/``, ``site_utc/``, the main site under
each permalink style, and every ``site_errors/<case>``); ``compare.py`` compares what they
publish. The only differences allowed are the deliberate deviations tabled in docs/jekyll.md
(section 8). Liquid included.

Needs Debian's ``jekyll`` and ``ruby-jekyll-feed`` (``.ci/run`` installs them). Without them the
test is skipped on a developer's machine and fails in CI (``CI`` set), where it must run.
"""
from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
from tests.conformance import compare   # a script (python tests/conformance/compare.py) and a module

# It builds the corpus with real Jekyll (a Ruby process): an end-to-end test.
pytestmark = pytest.mark.e2e

DOC = ROOT / "docs" / "jekyll.md"

# Posts and error sites that differ only because feedsvc does not render Liquid yet: Jekyll
# renders `{{ }}`/`{% %}` before Markdown (Renderer#render_document), feedsvc publishes the
# markup as text. The engineer adding Liquid (feedsvc/source/liquid.py) empties this list:
# each entry is a strict xfail, so once its post matches Jekyll the suite says so.


def deviations() -> list[dict[str, str]]:
    """Return the rows of the deviations table in docs/jekyll.md."""
    text = DOC.read_text(encoding="utf-8")
    block = text.split("<!-- deviations:start -->")[1].split("<!-- deviations:end -->")[0]
    rows = []
    for line in block.strip().splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        site, subject, field, feedsvc = (cell.strip("`") for cell in cells[:4])
        reason = cells[4]
        rows.append({"site": site, "subject": subject, "field": field, "feedsvc": feedsvc,
                     "reason": reason})
    return rows


def _matches(row: dict[str, str], difference: compare.Difference) -> bool:
    shown = difference.feedsvc if isinstance(difference.feedsvc, str) else repr(difference.feedsvc)
    return (fnmatch.fnmatchcase(difference.site, row["site"])
            and fnmatch.fnmatchcase(difference.subject, row["subject"])
            and fnmatch.fnmatchcase(difference.field, row["field"])
            and fnmatch.fnmatchcase(shown, row["feedsvc"]))


def _jekyll_available() -> bool:
    if not shutil.which("ruby"):
        return False
    probe = subprocess.run(["ruby", "-e", 'require "jekyll"; require "jekyll-feed"'],
                           capture_output=True, timeout=120)
    return probe.returncode == 0


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Build every corpus site with Jekyll and with this checkout's feedsvc; compare them."""
    if not _jekyll_available():
        if os.environ.get("CI"):
            pytest.fail("Jekyll is not installed: .ci/run installs jekyll ruby-jekyll-feed")
        pytest.skip("needs Jekyll: apt-get install --no-install-recommends jekyll ruby-jekyll-feed")
    work = tmp_path_factory.mktemp("conformance")
    jobs = [(compare.compare_site, (name, path, work)) for name, path in compare.SITES.items()]
    jobs += [(compare.compare_site, ("site", compare.SITES["site"], work, {"permalink": style},
                                     True)) for style in compare.PERMALINK_STYLES]
    jobs += [(compare.compare_error_site, (case.name, case, work))
             for case in sorted(p for p in compare.ERROR_SITES_DIR.iterdir() if p.is_dir())]
    with pytest.MonkeyPatch.context() as patch:   # for compare.py's processes only
        # This checkout's feedsvc, whatever feedsvc the interpreter has installed.
        patch.setenv("FEEDSVC_CMD", f"{sys.executable} -m feedsvc.cli")
        patch.setenv("PYTHONPATH", os.pathsep.join(
            p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
        with ThreadPoolExecutor(2) as pool:   # each job runs ruby and feedsvc as processes
            return list(pool.map(lambda job: job[0](*job[1]), jobs))


def _differences(results) -> list[compare.Difference]:
    return [d for result in results for d in result.differences]


def test_jekyll_built_the_corpus_and_feedsvc_compared_every_post(results):
    by_site = {r.site: r for r in results}
    assert by_site["site"].jekyll.ok and by_site["site_utc"].jekyll.ok
    assert len(by_site["site"].jekyll.posts) >= 100
    assert by_site["site"].posts_compared >= 100       # published by both, field by field
    assert by_site["site_utc"].posts_compared == len(by_site["site_utc"].jekyll.posts)


def test_feedsvc_publishes_what_jekyll_does_but_for_the_documented_deviations(results):
    rows = deviations()
    unexplained = [d for d in _differences(results)
                   if not any(_matches(row, d) for row in rows)]
    assert unexplained == [], "\n".join(
        f"{d.site} | {d.subject} | {d.field} | jekyll={d.jekyll!r} | feedsvc={d.feedsvc!r}"
        f" | {d.hint}" for d in unexplained)


def test_every_documented_deviation_still_occurs(results):
    differences = _differences(results)
    stale = [row for row in deviations() if not any(_matches(row, d) for d in differences)]
    assert stale == [], "docs/jekyll.md lists deviations that no longer occur: remove them"


def test_every_deviation_says_why():
    rows = deviations()
    assert len(rows) >= 10
    assert all(len(row["reason"]) > 20 for row in rows)


def test_a_site_whose_config_says_utc_gets_utc_instants_with_no_other_setting(results):
    result = next(r for r in results if r.site == "site_utc")
    assert result.jekyll.data["timezone"] == "UTC"
    dated = [d for d in result.differences
             if d.field in ("published", "published_offset", "updated", "url", "id")]
    assert dated == []
    feed = compare.parse_feed((result.feedsvc_root / "feeds" / "all.atom").read_bytes())
    assert feed.entries and all(re.search(r"(\+00:00|Z)$", e.published) for e in feed.entries)


def test_every_permalink_style_gives_jekyll_s_urls(results):
    styled = [r for r in results if r.site.startswith("site[permalink=")]
    assert len(styled) == len(compare.PERMALINK_STYLES)
    assert [d for r in styled for d in r.differences if d.field == "url"] == []
