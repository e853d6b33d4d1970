"""Command line for the private Synapse: ``python -m tui_client.homeserver install|run DIR``.

``install`` fills the Synapse cache (handy as a CI step); ``run DIR [--port N] [--user NAME:PW]``
serves DIR on 127.0.0.1 until Ctrl-C.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from .install import HomeserverError, default_env_dir, ensure_synapse
from .synapse import SynapseServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tui_client.homeserver")
    commands = parser.add_subparsers(dest="command", required=True)
    install = commands.add_parser("install", help="install Synapse into its cached virtualenv")
    install.add_argument("--env-dir", type=Path, default=None, help=f"default: {default_env_dir()}")
    run = commands.add_parser("run", help="run Synapse on 127.0.0.1 serving DIR until Ctrl-C")
    run.add_argument("data_dir", type=Path)
    run.add_argument("--port", type=int, default=None, help="default: a free port")
    run.add_argument("--server-name", default="localhost")
    run.add_argument(
        "--user", action="append", default=[], metavar="NAME:PASSWORD",
        help="register this user (repeatable; existing users are kept as they are)",
    )
    args = parser.parse_args(argv)

    try:
        if args.command == "install":
            print(ensure_synapse(env_dir=args.env_dir))
            return 0
        server = SynapseServer(args.data_dir, port=args.port, server_name=args.server_name)
        started = time.monotonic()
        server.start()
        print(f"Synapse ready at {server.url} (server name {server.server_name}, "
              f"pid {server.pid}) in {time.monotonic() - started:.1f} s", flush=True)
        for spec in args.user:
            name, sep, password = spec.partition(":")
            if not sep:
                parser.error(f"--user wants NAME:PASSWORD, got {spec!r}")
            print(f"user {server.register_user(name, password)}", flush=True)

        def on_signal(signum: int, frame: FrameType | None) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, on_signal)
        try:
            while server.running:
                time.sleep(0.5)
            print("Synapse exited on its own; see its logs in the data directory", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 0
        finally:
            server.stop()
    except HomeserverError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
