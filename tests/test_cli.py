"""The feedsvc command: config, check, serve's settings and nginx-config (no process started).

The gunicorn options serve passes and the access-log line its logger writes are checked here;
tests/e2e/test_serve.py starts the real server, and tests/e2e/test_nginx_proxy.py runs
nginx-config's output in a real nginx.
"""
from __future__ import annotations

import datetime
import json
import re
import types
from pathlib import Path

import pytest

from feedsvc.cli import main
from feedsvc.nginx import render_nginx_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def broken_site(tmp_path: Path) -> Path:
    posts = tmp_path / "_posts"
    posts.mkdir()
    (tmp_path / "_config.yml").write_text("url: https://news.example.com\ntitle: T\n")
    (posts / "2022-05-11-good.md").write_text("---\ntitle: Good\n---\nbody\n")
    (posts / "2022-05-12-yaml.md").write_text("---\ntitle: [unclosed\n---\nbody\n")
    (posts / "2022-05-13-date.md").write_text("---\ntitle: D\ndate: someday\n---\nbody\n")
    (posts / "2022-05-14-bytes.md").write_bytes(b"---\ntitle: \xff\xfe\x80\n---\n")
    return tmp_path


def test_check_lists_each_broken_post_and_exits_1(broken_site, capsys):
    assert main(["check", "--site", str(broken_site)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "_posts/2022-05-12-yaml.md: invalid YAML front matter at line 3: "
        "did not find expected ',' or ']'",
        "_posts/2022-05-13-date.md: date: 'someday' is not a date (unknown string format)",
        "_posts/2022-05-14-bytes.md: not text: neither UTF-8 nor GB18030",
        "1 posts published, 0 scheduled, 0 categories, 0 tags, 3 broken, 0 warnings, "
        "0 files not posts",
    ]


def test_check_sample_site_exits_0_with_its_awkward_cases_reported(capsys):
    # The sample keeps an unquoted zone-less date and a README among its posts on purpose.
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("_posts/2024-07-01-summer-night-market.md: warning: date: ")
    assert "_posts/README.txt: not a post: no date in the name" in out
    assert out.endswith("0 broken, 1 warnings, 1 files not posts\n")


def test_check_warns_of_what_jekyll_reads_otherwise_than_meant_and_exits_0(tmp_path, capsys):
    posts = tmp_path / "_posts"
    posts.mkdir()
    (tmp_path / "_config.yml").write_text("url: https://news.example.com\n"
                                          "timezone: Asia/Shanghai\n")
    (posts / "2022-05-12-zoneless.md").write_text("---\ndate: 2022-05-12 23:30:00\n---\nx\n")
    (posts / "2022-05-13-quoted.md").write_text("---\ndate: '2022-05-13 23:30:00'\n---\nx\n")
    (posts / "2009-03-12-hash-#1.md").write_text("x\n")
    (posts / "notes.md").write_text("x\n")
    (posts / "2022-01-01-data.yml").write_text("a: 1\n")
    assert main(["check", "--site", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "_posts/2009-03-12-hash-#1.md: warning: the URL slug 'hash-#1' was cleaned to "
        "'hash-1' (Utils.slugify): the URL is /2009/03/12/hash-1.html",
        "_posts/2022-01-01-data.yml: not a post: a YAML data file (Document#read loads it as "
        "data)",
        "_posts/2022-05-12-zoneless.md: warning: date: 2022-05-12 23:30:00 has no zone and no "
        "quotes, so Jekyll (and feedsvc) read it as UTC: 2022-05-13 07:30 in Asia/Shanghai. "
        "Write 'date: 2022-05-12 23:30:00 +0800' for Asia/Shanghai time, or quote it "
        "('date: \"2022-05-12 23:30:00\"') to mean the site's zone",
        "_posts/notes.md: not a post: no date in the name: Jekyll reads only "
        "YYYY-MM-DD-slug.EXT files as posts",
        "3 posts published, 0 scheduled, 0 categories, 0 tags, 0 broken, 2 warnings, "
        "2 files not posts",
    ]


def test_config_prints_every_key_with_source(broken_site, capsys, monkeypatch):
    monkeypatch.setenv("FEEDSVC_FEED_LIMIT", "9")
    assert main(["config", "--site", str(broken_site), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["feed_limit"] == 9
    assert data["url"] == "https://news.example.com"
    assert main(["config", "--site", str(broken_site)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^feed_limit +9  # environment$", out, re.MULTILINE)


def test_bad_config_exits_2_naming_the_key(broken_site, capsys, monkeypatch):
    monkeypatch.setenv("FEEDSVC_CACHE_MAX_AGE", "forever")
    assert main(["config", "--site", str(broken_site)]) == 2
    assert "'cache_max_age'" in capsys.readouterr().err


# --- serve: refused settings, the gunicorn options, the access-log line ---------------------

def test_bad_config_exits_2_naming_the_key_before_starting(tmp_path, capsys):
    assert main(["serve", "--site", str(tmp_path / "missing"), "--port", "1"]) == 2
    assert "'site_dir'" in capsys.readouterr().err


def test_gunicorn_options_of_the_threads_flag():
    from feedsvc.server import gunicorn_options
    assert gunicorn_options("127.0.0.1", 1, 2, "INFO")["worker_class"] == "gthread"
    sync = gunicorn_options("127.0.0.1", 1, 4, "INFO", threads=1, access_log=False)
    assert (sync["worker_class"], sync["workers"], sync["accesslog"]) == ("sync", 4, None)


def test_access_log_atoms_are_gunicorns(monkeypatch):
    # StderrLogger computes only the atoms of ACCESS_LOG_FORMAT; the line must be the one
    # gunicorn's own atoms() gives.
    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    from feedsvc.server import ACCESS_LOG_FORMAT, StderrLogger
    cfg = Config()
    cfg.set("access_log_format", ACCESS_LOG_FORMAT)
    resp = types.SimpleNamespace(status="304 NOT MODIFIED", sent=0, headers=[("ETag", '"x"')])
    req = types.SimpleNamespace(headers=[("HOST", "h"), ("USER-AGENT", "ua")])
    environ = {"REMOTE_ADDR": "10.0.0.1", "REQUEST_METHOD": "GET", "RAW_URI": "/a?b",
               "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_USER_AGENT": "ua", "PATH_INFO": "/a"}
    took = datetime.timedelta(seconds=1, microseconds=2345)
    lines = []
    for logger_class in (Logger, StderrLogger):
        logger = logger_class(cfg)
        monkeypatch.setattr(logger, "now", lambda: "[01/Jan/2025:00:00:00 +0000]")
        atoms = logger.atoms_wrapper_class(logger.atoms(resp, req, environ, took))
        lines.append(ACCESS_LOG_FORMAT % atoms)
    assert lines[0] == lines[1] == ('10.0.0.1 [01/Jan/2025:00:00:00 +0000] "GET /a?b HTTP/1.1" '
                                    '304 0 "-" "ua" 1002345us')


# --- nginx-config: its flags, and every directive documented --------------------------------

def test_nginx_config_defaults_and_flags(capsys):
    assert main(["nginx-config"]) == 0
    out = capsys.readouterr().out
    assert out == render_nginx_config("127.0.0.1:8000", "8080", "/var/cache/nginx/feedsvc",
                                      "_", False)
    assert "server 127.0.0.1:8000;" in out and "listen 8080;" in out
    assert "proxy_cache_path /var/cache/nginx/feedsvc " in out and "server_name _;" in out
    assert "http-level part" in out and "events" not in out
    assert main(["nginx-config", "--upstream", "[::1]:9000", "--listen", "80",
                 "--cache-dir", "/srv/nginx/", "--server-name", "feeds.example.com", "--full"]) == 0
    out = capsys.readouterr().out
    for line in ("server [::1]:9000;", "listen 80;", "server_name feeds.example.com;",
                 "proxy_cache_path /srv/nginx/cache ", "pid /srv/nginx/nginx.pid;",
                 "proxy_temp_path /srv/nginx/proxy_temp;", "events {", "http {"):
        assert line in out, line


@pytest.mark.parametrize("flag, value", [
    ("--upstream", "127.0.0.1"), ("--upstream", "127.0.0.1:0"), ("--upstream", "a b:80"),
    ("--upstream", "host:80; include /etc/passwd"), ("--upstream", "[zz]:80"),
    ("--listen", "http"), ("--listen", "70000"), ("--listen", "example.com:80"),
    ("--cache-dir", "relative/dir"), ("--cache-dir", "/var/cache/a b"),
    ("--cache-dir", "/var/cache/x;"), ("--cache-dir", "/var/../etc"),
    ("--server-name", "a;b"), ("--server-name", ""),
])
def test_nginx_config_bad_flag_exits_2_naming_it(flag, value, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["nginx-config", flag, value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}:" in err
    with pytest.raises(ValueError, match=flag):
        render_nginx_config(**{"upstream": "127.0.0.1:8000", "listen": "8080",
                               "cache_dir": "/tmp/c", "server_name": "_", "full": False,
                               flag[2:].replace("-", "_"): value})


def test_deploy_doc_explains_every_directive_of_the_config():
    doc = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    config = render_nginx_config("127.0.0.1:8000", "8080", "/var/cache/nginx/feedsvc", "_",
                                 True)
    directives = {line.split()[0] for line in config.splitlines()
                  if line.strip() and not line.lstrip().startswith(("#", "}", '"', "'"))
                  and not line.startswith(" " * 17)}   # continuation lines
    directives -= {"default"}   # a map's default entry, not a directive
    missing = sorted(d for d in directives if f"`{d}" not in doc and f"{d} " not in doc)
    assert missing == []
