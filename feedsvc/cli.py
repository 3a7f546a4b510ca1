"""The ``feedsvc`` command: config, check, serve, build."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence

from .config import SETTINGS, Settings, load_settings
from .errors import ConfigError
from .store import Store


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
    """Lint a site: one line per broken post, then a summary; exit 1 if any is broken."""
    settings = _settings(args)
    logging.getLogger("feedsvc.store").setLevel(logging.CRITICAL)  # the lines below say it
    snapshot = Store(settings).reload()
    for error in snapshot.errors:
        print(f"{error.path}: {error.reason}")
    print(f"{len(snapshot.posts)} posts published, {snapshot.pending} scheduled, "
          f"{len(snapshot.categories)} categories, {len(snapshot.tags)} tags, "
          f"{len(snapshot.errors)} broken")
    return 1 if snapshot.errors else 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the site under gunicorn until stopped (docs/service.md)."""
    from .server import serve  # gunicorn is only needed here
    settings = _settings(args)  # check the settings once, before any worker starts
    logging.getLogger().setLevel(settings.log_level)
    return serve({"site_dir": args.site}, args.config, host=args.host, port=args.port,
                 workers=args.workers, log_level=settings.log_level)


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


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="feedsvc", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    config = commands.add_parser("config", help="print the effective configuration")
    _site_args(config)
    config.add_argument("--json", action="store_true", help="print it as JSON")
    config.set_defaults(func=cmd_config)
    check = commands.add_parser("check", help="lint a site's posts; exit 1 if any is broken")
    _site_args(check)
    check.set_defaults(func=cmd_check)
    serve = commands.add_parser("serve", help="serve the feeds under gunicorn")
    _site_args(serve)
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default: %(default)s)")
    serve.add_argument("--port", type=_number(1, 65535), default=8000,
                       help="port (default: %(default)s)")
    serve.add_argument("--workers", type=_number(1, 64), default=2,
                       help="worker processes (default: %(default)s)")
    serve.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the feedsvc command; a bad config prints the key at fault and exits 2."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"feedsvc: bad configuration: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
