"""The command line's grammar: every command, its arguments and help."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from .. import __version__
from ..config import HISTORY_VISIBILITIES
from .account import (
    cmd_backup,
    cmd_devices,
    cmd_login,
    cmd_logout,
    cmd_reset_identity,
    cmd_setup_recovery,
    cmd_verify,
    cmd_whoami,
)
from .qa import cmd_doctor, cmd_export_keys, cmd_import_keys, cmd_inspect
from .rooms import (
    cmd_create_room,
    cmd_decline,
    cmd_dm,
    cmd_download,
    cmd_edit,
    cmd_history,
    cmd_invite,
    cmd_invites,
    cmd_join,
    cmd_leave,
    cmd_react,
    cmd_redact,
    cmd_reply,
    cmd_rooms,
    cmd_send,
    cmd_set_visibility,
    cmd_share_preview,
    cmd_sync,
    cmd_upload,
)
from .tui import cmd_demo
from .verification import add_parsers as add_verification_parsers

logger = logging.getLogger("tui_client.cli")

PROG = "tui-client"


def parse_command_line(argv: list[str] | None) -> tuple[argparse.Namespace, Callable[[str], NoReturn]]:
    """What the command line says, and how to refuse it (usage and the message, exit 2). A
    launch of the TUI (global options only) is read by the global options' parser alone: the
    whole grammar, some forty commands, takes 10 ms to build here, a fiftieth of the start-up.
    Anything else (a command, help, the version, a mistake) is read by the whole grammar."""
    words = sys.argv[1:] if argv is None else argv

    def refuse(message: str) -> NoReturn:
        build_parser().error(message)

    if not {"-h", "--help", "--version"} & set(words):
        quick = _global_options(argparse.ArgumentParser(prog=PROG, add_help=False, exit_on_error=False))
        try:
            args, rest = quick.parse_known_args(words)
        except argparse.ArgumentError:
            rest = words  # the whole grammar says what is wrong, with its usage
        if not rest:
            args.command = None
            return args, refuse
    return build_parser().parse_args(words), refuse


def _global_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--profile", default=None, help="account profile to use (default: from config, else 'default')")
    parser.add_argument("--log-level", default=None, choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("-v", "--verbose", action="store_true", help="also log to stderr")
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="A terminal Matrix client with encrypted history sharing (MSC4268). "
        "Without a command it starts the terminal UI.",
    )
    parser.add_argument("--version", action="version", version=f"tui-client {__version__}")
    _global_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, func: Callable, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        return p

    p = add("login", cmd_login, "log in with a password and save the session")
    p.add_argument("--homeserver", help="e.g. https://matrix.example.org (default: looked up from a full "
                   "user id, as other clients do); http:// is assumed for 127.0.0.1 and localhost")
    p.add_argument("--user", required=True, help="user name, or full user id (@name:server)")
    p.add_argument("--password", help="the password (prefer --password-stdin or the prompt)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")

    add("logout", cmd_logout, "log out and delete this profile's session and keys")

    p = add("whoami", cmd_whoami, "show the logged-in user and device")
    p.add_argument("--json", action="store_true")

    p = add("rooms", cmd_rooms, "list joined rooms")
    p.add_argument("--json", action="store_true")

    p = add("invites", cmd_invites, "list pending invites")
    p.add_argument("--json", action="store_true")

    p = add("create-room", cmd_create_room, "create a room (encrypted by default) and print its id")
    p.add_argument("name")
    p.add_argument("--history-visibility", choices=HISTORY_VISIBILITIES, default=None)
    p.add_argument("--topic")
    p.add_argument("--unencrypted", action="store_true")
    p.add_argument("--invite", action="append", metavar="USER")

    p = add("send", cmd_send, "send a text message (markdown); TEXT '-' reads stdin")
    p.add_argument("room")
    p.add_argument("text")
    p.add_argument("--emote", action="store_true", help="send as /me")
    p.add_argument("--notice", action="store_true", help="send as a notice")

    p = add("reply", cmd_reply, "reply to a message (in its thread if it is in one); prints the new event id")
    p.add_argument("room")
    p.add_argument("event_id")
    p.add_argument("text", help="markdown; '-' reads stdin")
    p.add_argument("--thread", action="store_true",
                   help="write in the thread of EVENT_ID (starting one from it) instead of replying to it")
    p.add_argument("--emote", action="store_true", help="send as /me")

    p = add("edit", cmd_edit, "replace the text of one of your messages; prints the edit's event id")
    p.add_argument("room")
    p.add_argument("event_id")
    p.add_argument("text", help="markdown; '-' reads stdin")

    p = add("react", cmd_react, "react to a message (e.g. 👍); prints the reaction's event id")
    p.add_argument("room")
    p.add_argument("event_id")
    p.add_argument("key")

    p = add("redact", cmd_redact, "delete a message (or take back a reaction by its event id); prints the "
            "redaction's event id")
    p.add_argument("room")
    p.add_argument("event_id")
    p.add_argument("--reason", help="say why (shown to everyone)")

    p = add("dm", cmd_dm, "open the direct chat with a user (an encrypted one is created if there is none); "
            "prints its room id")
    p.add_argument("user", help="@name:server")
    p.add_argument("text", nargs="?", help="a message to send in it ('-' reads stdin)")

    p = add("upload", cmd_upload, "send a file (an image as m.image, else m.file; encrypted in an encrypted "
            "room); prints the event id")
    p.add_argument("room")
    p.add_argument("path")

    p = add("download", cmd_download, "save the file of a message (decrypted, its hash checked); prints where")
    p.add_argument("room")
    p.add_argument("event_id")
    p.add_argument("path", nargs="?", help="a file or a directory (default: the downloads directory)")

    p = add("invite", cmd_invite, "invite a user, sharing the keys to earlier messages when the room allows it")
    p.add_argument("room")
    p.add_argument("user")
    p.add_argument("--no-share", action="store_true", help="do not share the room's history keys")
    p.add_argument(
        "--invite-if-sharing-fails", action="store_true",
        help="send the invite even if sharing the history keys fails (default: do not invite)",
    )

    p = add("join", cmd_join, "join a room or accept an invite")
    p.add_argument("room")

    p = add("decline", cmd_decline, "decline an invite")
    p.add_argument("room")

    p = add("leave", cmd_leave, "leave a room")
    p.add_argument("room")

    p = add("set-visibility", cmd_set_visibility, "set who can read the room's history")
    p.add_argument("room")
    p.add_argument("visibility", choices=HISTORY_VISIBILITIES)

    p = add("history", cmd_history, "print a room's history, oldest first")
    p.add_argument("room")
    p.add_argument("--json", action="store_true")
    p.add_argument("--all", action="store_true", help="include membership and state events")
    p.add_argument("--wait", type=float, default=0, metavar="SECONDS", help="wait up to this long for keys")

    p = add("share-preview", cmd_share_preview,
            "what a user would read of a room's history if invited now, message by message, and why not")
    p.add_argument("room")
    p.add_argument("user")
    p.add_argument("--json", action="store_true")

    p = add("devices", cmd_devices, "list a user's devices and whether their owner cross-signed them")
    p.add_argument("user", nargs="?", help="default: yourself")
    p.add_argument("--json", action="store_true")

    p = add("verify", cmd_verify, "verify this device with your recovery key (read from a prompt or stdin); "
            "or compare emoji with another device: verify-user YOUR_ID")
    p.add_argument("--recovery-key", action="store_true", help="use the recovery key (the default way)")
    p.add_argument("--stdin", action="store_true", help="read the key from stdin")

    add("setup-recovery", cmd_setup_recovery,
        "store your cross-signing keys (and a key backup, made if there is none) in secret storage; "
        "print a recovery key")

    p = add("backup", cmd_backup, "the server-side key backup: its status, or restore keys from it")
    backup = p.add_subparsers(dest="backup_command", metavar="ACTION", required=True)
    q = backup.add_parser("status", help="version, algorithm, keys on the server, restored here, waiting to go up")
    q.add_argument("--json", action="store_true")
    q = backup.add_parser("restore", help="restore the whole backup, or one room's keys")
    q.add_argument("room", nargs="?", help="only this room's keys")
    q.add_argument("--json", action="store_true")

    add_verification_parsers(add)

    p = add("reset-identity", cmd_reset_identity, "replace your cross-signing identity (explicit, with --yes)")
    p.add_argument("--yes", action="store_true")
    p.add_argument("--password", help=argparse.SUPPRESS)
    p.add_argument("--password-stdin", action="store_true")

    p = add("export-keys", cmd_export_keys, "export room keys to a passphrase-protected file (Element's format)")
    p.add_argument("file", type=Path)
    p.add_argument("--room", help="only this room's keys")
    p.add_argument("--passphrase-stdin", action="store_true")

    p = add("import-keys", cmd_import_keys, "import room keys from a passphrase-protected file")
    p.add_argument("file", type=Path)
    p.add_argument("--passphrase-stdin", action="store_true")

    p = add("inspect", cmd_inspect, "show a room's crypto state: sessions, withheld keys, bundles, devices")
    p.add_argument("room")
    p.add_argument("--json", action="store_true")

    p = add("doctor", cmd_doctor, "versions, paths, homeserver, store health, cross-signing, pending bundles")
    p.add_argument("--json", action="store_true")

    p = add("demo", cmd_demo, "encrypted history sharing on a private homeserver, offline: Alice invites you")
    p.add_argument("--fresh", action="store_true", help="start the demo over (new homeserver, new story)")
    p.add_argument("--server-only", action="store_true", help="only run the homeserver; print URL and users")
    p.add_argument("--as", dest="as_user", default="bob", metavar="USER", help="whose view: bob (default) or charlie")
    p.add_argument("--no-hints", action="store_true", help="hide the guided hint line")

    p = add("sync", cmd_sync, "sync for a while (receive keys and messages) and exit")
    p.add_argument("--seconds", type=float, default=5.0)

    return parser
