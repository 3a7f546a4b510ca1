"""The README documents every setting the code knows."""
from pathlib import Path

from feedsvc.config import SETTINGS

ROOT = Path(__file__).resolve().parent.parent


def test_readme_lists_every_setting():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [s.name for s in SETTINGS if f"| `{s.name}` | `FEEDSVC_{s.name.upper()}` |" not in readme]
    assert missing == []


def test_shipped_config_mentions_every_setting():
    shipped = (ROOT / "config" / "feedsvc.yaml").read_text(encoding="utf-8")
    missing = [s.name for s in SETTINGS if f"{s.name}:" not in shipped]
    assert missing == []
