"""The ``feedsvc`` command: config, check, serve, build."""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence

from . import __version__
from .config import ENV_SERVE_PREFIX, SETTINGS, Settings, did_you_mean, load_settings
from .errors import ConfigError
from .logs import configure_logging
from .source import Store
from .source.notices import site_notices


def _site_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--site", metavar="DIR", help="the Jekyll site (default: the bundled sample)")
    parser.add_argument("--config", metavar="FILE", help="feedsvc's YAML config file")


def _settings(args: argparse.Namespace, **overrides: object) -> Settings:
    return load_settings({"site_dir": args.site, **overrides}, config_file=args.config)


def cmd_config(args: argparse.Namespace) -> int:
    """Print the effective configuration, one key a line, with where each value came from."""
    settings = _settings(args)
    if args.json:
        print(json.dumps(settings.as_dict(), ensure_ascii=False, indent=2))
        return 0
    width = max(len(s.name) for s in SETTINGS)
    for setting in SETTINGS:
        value = getattr(settings, setting.name)
        shown = json.dumps(value, ensure_ascii=False)
        if setting.name == "site_dir" and not value:
            shown = json.dumps(str(settings.site_root)) + "  (bundled sample site)"
        print(f"{setting.name:<{width}}  {shown}  # {settings.sources[setting.name]}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Lint a site: one line per broken post, per warning and per file under _posts that is
    no post, then a summary; exit 1 if any post is broken (warnings do not fail)."""
    settings = _settings(args)
    store_log = logging.getLogger("feedsvc.source")
    level = store_log.level
    store_log.setLevel(logging.CRITICAL)  # the lines below say it, once
    store = Store.from_settings(settings)
    try:
        snapshot = store.reload()
        for post in snapshot.posts:   # render every post's Liquid, as a Jekyll build would
            store.body_of(post)
    finally:
        store_log.setLevel(level)
    failures = store.liquid.errors(p.path for p in snapshot.posts)   # found by rendering
    errors = sorted(dict.fromkeys([*snapshot.errors, *failures]),
                    key=lambda e: (e.path, e.line or 0))
    for error in errors:
        print(f"{error.location}: {error.reason}")
    notes = [note for note in store.liquid.report() if note.kind != "error"]
    for note in notes:   # Liquid that could not run as Jekyll runs it (plugin tags, warnings)
        print(note)
    notices = site_notices(store.options, store.posts())
    for notice in notices:
        print(f"{notice.path}: {notice.kind}: {notice.reason}")
    warnings = sum(notice.kind == "warning" for notice in notices)
    print(f"{len(snapshot.posts)} posts published, {snapshot.pending} scheduled, "
          f"{len(snapshot.categories)} categories, {len(snapshot.tags)} tags, "
          f"{len(errors)} broken, {warnings} warnings, "
          f"{len(notices) - warnings} files not posts"
          + (f", {len(notes)} Liquid notes" if notes else ""))
    return 1 if errors else 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the site under gunicorn (or granian) until stopped (docs/service.md)."""
    from .server import serve  # gunicorn is only needed here
    overrides = {"site_dir": args.site, "log_format": args.log_format}
    # Check the settings once, before any worker starts.
    settings = load_settings(overrides, config_file=args.config)
    configure_logging(settings.log_level, settings.log_format)
    return serve(overrides, args.config, host=args.host, port=args.port,
                 workers=args.workers, log_level=settings.log_level, server=args.server,
                 threads=args.threads, access_log=args.access_log,
                 log_format=settings.log_format)


def _number(low: int, high: int) -> Callable[[str], int]:
    def check(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {number}")
        return number
    return check


def cmd_build(args: argparse.Namespace) -> int:
    """Export every feed, page and the OPML as static files, atomically (docs/freshness.md)."""
    from .errors import FeedsvcError
    from .export import ExportError, export, export_continuously
    from .site import Site
    from .archive_files import archive_files
    settings = _settings(args, **({"archives": True} if args.archives else {}))
    # With archives on (the flag or the setting) the current documents link the pages:
    # they are written too, or the export's prev-archive links would lead nowhere.
    archives = settings.archives
    site = Site(settings)
    try:
        published = site.reload()
        result = export(published.documents, args.out,
                        archive_files(published, site.store) if archives else None)
    except ExportError as exc:
        print(f"feedsvc build: {exc}", file=sys.stderr)
        return 1
    except FeedsvcError as exc:
        print(f"feedsvc build: cannot load the site: {exc}", file=sys.stderr)
        return 1
    for skipped in result.skipped:
        print(f"feedsvc build: skipped {skipped.path!r}: {skipped.reason}", file=sys.stderr)
    if result.changed:
        pages = " and the archive pages" if archives else ""
        print(f"exported {len(published.documents) - len(result.skipped)} documents{pages} to "
              f"{result.out} -> {result.build.name} ({result.written} files written, "
              f"{result.linked} unchanged, {len(result.skipped)} skipped)")
    else:
        print(f"{result.out} already holds these documents; nothing written")
    if args.watch:
        from .publisher import HubPublisher
        publisher = HubPublisher(settings.websub_hubs) if settings.websub_hubs else None
        stop = threading.Event()
        try:
            with _stopped_by_signals(stop):
                export_continuously(site, args.out, args.interval or settings.reload_interval,
                                    stop, archives=archives, publisher=publisher)
        finally:
            if publisher is not None:
                publisher.close(timeout=5)   # what is queued gets 5 s to reach the hubs
    return 0


@contextlib.contextmanager
def _stopped_by_signals(stop: threading.Event) -> Iterator[None]:
    """Within the block, let SIGINT (Ctrl-C) and SIGTERM set *stop* instead of killing us."""
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="feedsvc", description=__doc__)
    parser.add_argument("--version", action="version", version=f"feedsvc {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    config = commands.add_parser("config", help="print the effective configuration")
    _site_args(config)
    config.add_argument("--json", action="store_true", help="print it as JSON")
    config.set_defaults(func=cmd_config)
    check = commands.add_parser("check", help="lint a site's posts; exit 1 if any is broken")
    _site_args(check)
    check.set_defaults(func=cmd_check)
    serve = commands.add_parser("serve", help="serve the feeds under gunicorn (or granian)")
    _site_args(serve)
    env = _serve_environment()
    serve.add_argument("--host", default=env.get("host", "127.0.0.1"),
                       help="address to listen on (default: %(default)s)")
    serve.add_argument("--port", type=_number(1, 65535), default=env.get("port", "8000"),
                       help="port (default: %(default)s)")
    serve.add_argument("--workers", type=_number(1, 64), default=env.get("workers", "2"),
                       help="worker processes (default: %(default)s)")
    serve.add_argument("--threads", type=_number(1, 64), default=env.get("threads", "4"),
                       help="threads per worker; 1 runs gunicorn's sync worker, which closes "
                       "every connection (default: %(default)s)")
    serve.add_argument("--server", choices=("gunicorn", "granian"),
                       default=env.get("server", "gunicorn"),
                       help="WSGI server; granian needs the 'granian' extra "
                       "(default: %(default)s)")
    serve.add_argument("--access-log", action=argparse.BooleanOptionalAction,
                       default=_flag(env.get("access_log", "true"), "ACCESS_LOG"),
                       help="one line per request on stderr (default: on)")
    serve.add_argument("--log-format", choices=("text", "json"), default=None,
                       help="text, or one JSON object per line, access lines included "
                       "(default: the log_format setting)")
    serve.set_defaults(func=cmd_serve)
    build = commands.add_parser("build", help="export the feeds, pages and OPML as static "
                                "files (plus .gz), swapped in atomically")
    _site_args(build)
    build.add_argument("--out", metavar="DIR", required=True,
                       help="a symlink to the newest build, kept in DIR.d/")
    build.add_argument("--archives", action="store_true",
                       help="also write every RFC 5005 archive page (sets archives: true; "
                       "with archives: true in the config they are written anyway)")
    build.add_argument("--watch", action="store_true",
                       help="keep reloading and export again whenever something changed")
    build.add_argument("--interval", metavar="SECONDS", type=_number(1, 86400),
                       help="seconds between reloads with --watch (default: reload_interval)")
    build.set_defaults(func=cmd_build)
    from .nginx import add_subcommand as add_nginx_config  # feedsvc nginx-config (docs/deploy.md)
    add_nginx_config(commands)
    return parser


SERVE_OPTIONS = ("host", "port", "workers", "threads", "server", "access_log")


def _serve_environment() -> dict[str, str]:
    """Return feedsvc serve's options given as FEEDSVC_SERVE_<OPTION> (flags still win).

    Not FEEDSVC_PORT or FEEDSVC_SERVICE_*: Kubernetes sets those for a Service named feedsvc.
    """
    given = {}
    for name, value in os.environ.items():
        if not name.startswith(ENV_SERVE_PREFIX):
            continue
        option = name[len(ENV_SERVE_PREFIX):].lower()
        if option in SERVE_OPTIONS:
            given[option] = value
        else:
            logging.getLogger(__name__).warning(
                "ignoring unknown environment variable %s%s", name,
                did_you_mean(option, SERVE_OPTIONS, ENV_SERVE_PREFIX))
    return given


def _flag(text: str, option: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(ENV_SERVE_PREFIX + option, f"must be true or false, got {text!r}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the feedsvc command; a bad config prints the key at fault and exits 2."""
    configure_logging("INFO")
    try:
        args = build_parser().parse_args(argv)
    except ConfigError as exc:
        print(f"feedsvc: bad configuration: {exc}", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"feedsvc: bad configuration: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
