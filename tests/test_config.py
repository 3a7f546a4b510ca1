"""Settings: layers in order, site metadata from _config.yml, bad values name the key."""
from __future__ import annotations

import logging

from pathlib import Path

import pytest
import yaml

from feedsvc.config import SAMPLE_SITE, SETTINGS, load_settings
from feedsvc.errors import ConfigError

REQUIRED_KEYS = ["site_dir", "url", "baseurl", "title", "description", "timezone", "permalink",
                 "feed_limit", "reload_interval", "stale_after", "cache_max_age",
                 "max_post_bytes", "excerpt_only"]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "_posts").mkdir()
    (tmp_path / "_config.yml").write_text(
        "url: https://site.example.com/\nbaseurl: /blog\ntitle: Site Title\n"
        "timezone: Europe/Paris\nauthor: {name: Desk, email: d@example.com}\n"
        "plugins: [jekyll-feed]\n", encoding="utf-8")
    return tmp_path


def test_required_keys_exist():
    names = [s.name for s in SETTINGS]
    assert all(key in names for key in REQUIRED_KEYS)
    assert all(s.help for s in SETTINGS)


def test_site_config_supplies_metadata(site):
    settings = load_settings({"site_dir": str(site)}, config_file=_empty(site), environ={})
    assert settings.url == "https://site.example.com"
    assert settings.baseurl == "/blog"
    assert settings.site_url == "https://site.example.com/blog"
    assert settings.title == "Site Title"
    assert settings.timezone == "Europe/Paris"
    assert settings.author == "Desk"
    assert settings.sources["title"] == str(site / "_config.yml")
    assert settings.sources["feed_limit"] == "default"


def _empty(site: Path) -> Path:
    path = site / "empty.yaml"
    path.write_text("# nothing\n")
    return path


def test_layers_win_in_order(site):
    config = site / "feedsvc.yaml"
    config.write_text("title: From File\nfeed_limit: 5\ncache_max_age: 10\n")
    environ = {"FEEDSVC_FEED_LIMIT": "7", "FEEDSVC_TIMEZONE": "Asia/Shanghai"}
    settings = load_settings({"site_dir": str(site), "cache_max_age": 99},
                             config_file=config, environ=environ)
    assert settings.title == "From File"            # file beats the site's _config.yml
    assert settings.feed_limit == 7                  # environment beats file
    assert settings.timezone == "Asia/Shanghai"      # environment beats the site
    assert settings.cache_max_age == 99              # overrides beat everything
    assert settings.sources["feed_limit"] == "environment"


def test_feedsvc_config_env_names_the_file(site):
    config = site / "other.yaml"
    config.write_text("feed_limit: 3\n")
    settings = load_settings({"site_dir": str(site)}, environ={"FEEDSVC_CONFIG": str(config)})
    assert settings.feed_limit == 3


def test_shipped_config_sets_shanghai():
    settings = load_settings({}, environ={})
    assert settings.timezone == "Asia/Shanghai"
    assert settings.site_root == SAMPLE_SITE


@pytest.mark.parametrize("overrides, key", [
    ({"feed_limit": "many"}, "feed_limit"),
    ({"feed_limit": 0}, "feed_limit"),
    ({"reload_interval": -1}, "reload_interval"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"url": "news.example.com"}, "url"),
    ({"excerpt_only": "maybe"}, "excerpt_only"),
    ({"id_style": "random"}, "id_style"),
    ({"category_url": "/c/{nme}.html"}, "category_url"),
    ({"no_such_key": 1}, "no_such_key"),
    ({"site_dir": "/nonexistent/site"}, "site_dir"),
])
def test_bad_value_names_the_key(site, overrides, key):
    with pytest.raises(ConfigError) as caught:
        load_settings({"site_dir": str(site), **overrides}, environ={})
    assert caught.value.key == key
    assert repr(key) in str(caught.value)


def test_unknown_key_in_file_is_an_error(site):
    config = site / "feedsvc.yaml"
    config.write_text("feed_limt: 5\n")
    with pytest.raises(ConfigError) as caught:
        load_settings({"site_dir": str(site)}, config_file=config, environ={})
    assert caught.value.key == "feed_limt"


def test_unknown_environment_variable_is_a_warning_naming_the_closest_key(site, caplog):
    with caplog.at_level(logging.WARNING, logger="feedsvc.config"):
        settings = load_settings({"site_dir": str(site)},
                                 environ={"FEEDSVC_FEEDLIMIT": "5", "FEEDSVC_TITLE": "T"})
    assert settings.feed_limit == 20 and settings.title == "T"
    assert caplog.messages == ["ignoring unknown environment variable FEEDSVC_FEEDLIMIT; "
                               "did you mean FEEDSVC_FEED_LIMIT?"]


def test_kubernetes_service_links_are_ignored_quietly(site, caplog):
    injected = {"FEEDSVC_PORT": "tcp://10.0.0.1:8000", "FEEDSVC_SERVICE_HOST": "10.0.0.1",
                "FEEDSVC_SERVICE_PORT": "8000", "FEEDSVC_SERVICE_PORT_HTTP": "8000",
                "FEEDSVC_PORT_8000_TCP": "tcp://10.0.0.1:8000",
                "FEEDSVC_PORT_8000_TCP_PROTO": "tcp", "FEEDSVC_PORT_8000_TCP_PORT": "8000",
                "FEEDSVC_PORT_8000_TCP_ADDR": "10.0.0.1"}
    with caplog.at_level(logging.DEBUG, logger="feedsvc.config"):
        load_settings({"site_dir": str(site)}, environ=injected)
    assert [r.levelno for r in caplog.records] == [logging.DEBUG] * len(injected)


def test_unknown_key_in_a_config_file_stays_fatal_and_suggests_the_key(site, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("feedlimit: 5\n")
    with pytest.raises(ConfigError) as caught:
        load_settings({"site_dir": str(site)}, config_file=config, environ={})
    assert caught.value.key == "feedlimit"
    assert "did you mean feed_limit?" in str(caught.value)


def test_bad_value_in_environment_names_key_and_source(site):
    with pytest.raises(ConfigError) as caught:
        load_settings({"site_dir": str(site)}, environ={"FEEDSVC_STALE_AFTER": "soon"})
    assert caught.value.key == "stale_after"
    assert "environment" in str(caught.value)


def test_config_file_must_be_a_mapping(site):
    config = site / "feedsvc.yaml"
    config.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_settings({"site_dir": str(site)}, config_file=config, environ={})


def test_missing_url_is_an_error(tmp_path):
    (tmp_path / "_posts").mkdir()
    with pytest.raises(ConfigError) as caught:
        load_settings({"site_dir": str(tmp_path)}, environ={})
    assert caught.value.key == "url"


def test_bad_site_config_yaml_is_an_error(site):
    (site / "_config.yml").write_text("url: [unclosed\n")
    with pytest.raises(ConfigError) as caught:
        load_settings({"site_dir": str(site)}, environ={})
    assert caught.value.key == "site_dir"


def test_the_sites_own_timezone_wins_with_no_other_setting(tmp_path):
    site = tmp_path / "utc-site"
    (site / "_posts").mkdir(parents=True)
    (site / "_config.yml").write_text('url: "https://utc.example.com"\ntimezone: UTC\n')
    settings = load_settings({"site_dir": str(site)}, environ={})
    assert settings.timezone == "UTC"
    assert settings.sources["timezone"] == str(site / "_config.yml")


def test_the_shipped_config_file_documents_keys_but_sets_none():
    shipped = Path(__file__).resolve().parents[1] / "config" / "feedsvc.yaml"
    text = shipped.read_text(encoding="utf-8")
    assert yaml.safe_load(text) is None   # every key commented out
    for setting in SETTINGS:
        assert f"# {setting.name}:" in text, setting.name


def test_jekyll_feeds_settings_and_the_site_name_are_read_from_the_sites_config(tmp_path):
    site = tmp_path / "site"
    (site / "_posts").mkdir(parents=True)
    (site / "_config.yml").write_text(
        'url: "https://e.org"\nname: Site Name\nmarkdown_ext: "md,TXT"\n'
        'excerpt_separator: "<!--more-->"\nauthor: {name: Desk, email: d@e.org}\n'
        "feed:\n  path: /atom.xml\n  posts_limit: 7\n  excerpt_only: true\n"
        "  categories: [news]\n  tags: {only: [a, b], except: [b], path: /t/}\n")
    settings = load_settings({"site_dir": str(site)}, environ={})
    assert (settings.title, settings.feed_limit, settings.excerpt_only, settings.author) == \
        ("Site Name", 7, True, "Desk")   # jekyll-feed: title | default: name; posts_limit
    site_config = settings.jekyll
    assert site_config.markdown_ext == ("md", "txt")
    assert site_config.excerpt_separator == "<!--more-->"
    assert (site_config.author_email, site_config.feed_path) == ("d@e.org", "/atom.xml")
    assert (site_config.feed_categories, site_config.feed_tags, site_config.feed_tags_only,
            site_config.feed_tags_except, site_config.feed_tags_path) == \
        (("news",), True, ("a", "b"), ("b",), "/t/")
    overridden = load_settings({"site_dir": str(site), "feed_limit": 3}, environ={})
    assert overridden.feed_limit == 3    # an explicit setting still wins
