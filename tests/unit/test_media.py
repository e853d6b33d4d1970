"""What a file message points at, and file names from other people made safe to save."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui_client.engine.crypto.attachments import AttachmentError, encrypt_attachment
from tui_client.engine.media import file_content, media_of, safe_filename, unique_path, Source


def encrypted_file() -> dict:
    _, info = encrypt_attachment(b"x")
    return {**info, "url": "mxc://example.org/abc"}


def test_media_of_plain_and_encrypted_files():
    plain = media_of({"msgtype": "m.image", "body": "red.png", "url": "mxc://s/m",
                      "info": {"mimetype": "image/png", "size": 10, "w": 4, "h": 3, "thumbnail_url": "mxc://s/t"}})
    assert (plain.name, plain.mimetype, plain.size, plain.width, plain.height) == ("red.png", "image/png", 10, 4, 3)
    assert not plain.source.encrypted and plain.thumbnail.url == "mxc://s/t"
    encrypted = media_of({"msgtype": "m.file", "body": "caption", "filename": "a.pdf", "file": encrypted_file(),
                          "info": {"size": True, "thumbnail_file": {"v": "v1"}}})
    assert encrypted.name == "a.pdf" and encrypted.source.encrypted and encrypted.size is None
    assert encrypted.thumbnail is None  # a bad thumbnail never hides the file


@pytest.mark.parametrize("content,reason", [
    (None, "no content"),
    ({"msgtype": "m.text", "body": "x"}, "no file"),
    ({"msgtype": "m.file", "body": "x"}, "names no file"),
    ({"msgtype": "m.file", "body": "x", "url": "https://x/y"}, "mxc"),
    ({"msgtype": "m.file", "body": "x", "file": {"v": "v1", "url": "mxc://a/b"}}, "version"),
    ({"msgtype": "m.file", "body": "x", "file": {**encrypted_file(), "hashes": {}}}, "SHA-256"),
])
def test_unusable_file_messages_say_why(content, reason):
    with pytest.raises(AttachmentError, match=reason):
        media_of(content)


@pytest.mark.parametrize("name,safe", [
    ("report.pdf", "report.pdf"),
    ("../../etc/passwd", "_.._etc_passwd"),
    (".bashrc", "bashrc"),
    ("..", "attachment"),
    ("", "attachment"),
    ("a\x00b\x1b[2Jc.txt", "ab[2Jc.txt"),
    ("evil\u202egnp.exe", "evilgnp.exe"),
    ("CON.txt", "attachment_CON.txt"),
    ("C:\\Windows\\x.dll", "C__Windows_x.dll"),
])
def test_safe_filenames(name, safe):
    assert safe_filename(name) == safe


def test_long_names_keep_their_extension_and_fit():
    name = safe_filename("é" * 300 + ".jpeg")
    assert name.endswith(".jpeg") and len(name.encode()) <= 200


def test_unique_paths_never_overwrite(tmp_path: Path):
    (tmp_path / "a.txt").write_text("1")
    (tmp_path / "a (2).txt").write_text("2")
    assert unique_path(tmp_path, "a.txt") == tmp_path / "a (3).txt"
    assert unique_path(tmp_path, "b") == tmp_path / "b"


def test_file_content_as_element_sends_it():
    content = file_content("f.bin", "application/octet-stream", 3, Source("mxc://s/m"))
    assert content == {"msgtype": "m.file", "body": "f.bin", "filename": "f.bin", "url": "mxc://s/m",
                       "info": {"mimetype": "application/octet-stream", "size": 3}}
