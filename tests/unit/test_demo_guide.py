"""The demo's hint state machine (tui_client.demo.guide), fed facts by hand."""

from __future__ import annotations

from dataclasses import replace

from tui_client.demo.guide import NOT_SHARED, OTHER, SHARED, Facts, Guide

INVITED = Facts(invite_from="Alice", invite_bundle=True, invite_messages=3, bot_alive=True)
JOINED = Facts(joined=True, room_open=True, shared_by="Alice", shared_count=3, not_shared_count=1, bot_alive=True)


def walk(guide: Guide, *facts: Facts) -> list[str]:
    return [guide.update(f).step for f in facts]


def test_bob_walks_the_whole_story() -> None:
    guide = Guide("bob")
    assert guide.update(Facts(bot_alive=True)).text.startswith("Waiting for Alice's invite")
    hint = guide.update(INVITED)
    assert hint.step == "accept"
    assert hint.text == "Alice invited you and shared the keys to 3 earlier messages: press a to accept"
    assert guide.update(JOINED).step == "read"
    assert "🔑 = keys Alice shared" in guide.update(replace(JOINED, selected=OTHER)).text
    assert guide.update(replace(JOINED, selected=SHARED)).step == "why"
    assert guide.update(replace(JOINED, selected=NOT_SHARED)).step == "talk"
    # Steps stay done: moving the selection away does not send the viewer back.
    assert guide.update(replace(JOINED, selected=None)).step == "talk"
    assert guide.update(replace(JOINED, own_messages=1)).text == "Alice is writing an answer…"
    invite = guide.update(replace(JOINED, own_messages=1, answered=True))
    assert invite.step == "invite" and "ctrl+p → Invite Charlie" in invite.text
    dialog = guide.update(replace(JOINED, own_messages=1, answered=True, dialog="invite"))
    assert dialog.text.startswith("Press y")
    invited = guide.update(replace(JOINED, charlie_in_room=True))
    assert invited.step == "charlie" and "tui-client demo --as charlie" in invited.text and invited.tone == "done"
    # The hint moves on with the room: Charlie joins, then speaks.
    greet = guide.update(replace(JOINED, charlie_in_room=True, charlie_joined=True))
    assert greet.step == "greet" and "Charlie joined and reads the history you passed on" in greet.text
    assert "--as charlie" not in greet.text
    end = guide.update(replace(JOINED, charlie_in_room=True, charlie_joined=True, charlie_spoke=True))
    assert end.step == "end" and end.text.startswith("That's the story!")


def test_selecting_daves_message_first_still_asks_to_read_the_shared_ones() -> None:
    guide = Guide("bob")
    assert walk(guide, INVITED, replace(JOINED, selected=NOT_SHARED)) == ["accept", "read"]
    assert walk(guide, replace(JOINED, selected=SHARED)) == ["talk"]


def test_the_room_must_be_open_to_read_it() -> None:
    guide = Guide("bob")
    guide.update(INVITED)
    hint = guide.update(Facts(joined=True, bot_alive=True))
    assert hint.step == "open" and "f2" in hint.text


def test_invite_without_bundle_and_nothing_shared() -> None:
    guide = Guide("bob")
    assert guide.update(Facts(invite_from="Alice")).text == "Alice invited you to Project Aurora: press a to accept"
    assert guide.update(Facts(invite_from="Alice", invite_bundle=True)).text == (
        "Alice invited you and shared the keys to earlier messages: press a to accept"
    )
    # Nothing decrypted with shared keys and nothing explained: once the viewer moves in the
    # timeline (the keys are not merely late), on to talking.
    bare = Facts(joined=True, room_open=True, bot_alive=True)
    assert guide.update(bare).step == "read"
    assert guide.update(replace(bare, selected=OTHER)).step == "talk"


def test_a_dead_bot_is_mentioned_and_does_not_hold_the_story_up() -> None:
    guide = Guide("bob")
    guide.update(INVITED)
    guide.update(replace(JOINED, selected=SHARED))
    guide.update(replace(JOINED, selected=NOT_SHARED))
    quiet = guide.update(replace(JOINED, bot_alive=False))
    assert quiet.step == "invite" and quiet.tone == "warning"
    assert quiet.text.startswith("Alice went quiet (her bot stopped; see bot.log)") and "ctrl+p → Invite Charlie" in quiet.text
    charlie = Guide("charlie", done={"accept", "read", "why"})
    assert charlie.update(replace(JOINED, bot_alive=False)).text.endswith("That's the story; ctrl+q quits")


def test_charlie_has_his_own_words() -> None:
    guide = Guide("charlie")
    assert guide.update(Facts()).text == "Waiting for Bob's invite (in another terminal:  tui-client demo)"
    assert guide.update(Facts(invite_from="Bob", invite_bundle=True, invite_messages=5)).text.startswith(
        "Bob invited you and shared the keys to 5 earlier messages"
    )
    joined = replace(JOINED, shared_by="Bob")
    assert "Bob passed on the keys Alice gave him" in guide.update(joined).text
    assert "still explained" in guide.update(replace(joined, selected=SHARED)).text
    assert guide.update(replace(joined, selected=NOT_SHARED)).step == "talk"
    end = guide.update(replace(joined, own_messages=1, answered=True))
    assert end.step == "end" and "ctrl+q quits" in end.text
    assert "invite" not in guide.steps


def test_hints_fit_one_line_at_100_columns() -> None:
    """The hint line is one line: every text fits 100 columns with its 💡 and padding."""
    texts = set()
    # As long as the command gets in a fresh clone's venv (the path of the running executable).
    command = "~/src/tui_client/.venv/bin/tui-client"
    for user in ("bob", "charlie", "dave"):
        for facts in (
            Facts(), INVITED, Facts(invite_from="Alice"), Facts(joined=True),
            JOINED, replace(JOINED, own_messages=1), replace(JOINED, bot_alive=False),
            replace(JOINED, dialog="invite"), replace(JOINED, bot_alive=False, own_messages=1),
            replace(JOINED, charlie_in_room=True), replace(JOINED, charlie_in_room=True, charlie_joined=True),
            replace(JOINED, charlie_got_keys=False, charlie_in_room=True, charlie_joined=True),
            replace(JOINED, server_gone=True),
        ):
            for done in ((), ("accept", "read", "why"), ("accept", "read", "why", "talk"),
                         ("accept", "read", "why", "talk", "invite"),
                         ("accept", "read", "why", "talk", "invite", "charlie", "greet")):
                guide = Guide(user, done=set(done), command=command)
                texts.add(guide.update(facts).text)
    assert any(f"{command} demo --as charlie" in t for t in texts)
    for text in texts:
        width = len(text) + text.count("🔑")  # the key emoji takes two cells
        assert width <= 100 - 2 - 3, text


def test_the_end_of_the_story_follows_the_room_and_a_stopped_homeserver_is_said_plainly() -> None:
    guide = Guide("bob", done={"accept", "read", "why", "talk", "invite"}, command="~/x/.venv/bin/tui-client")
    assert guide.update(replace(JOINED, charlie_in_room=True)).text == (
        "Done! Now in another terminal:  ~/x/.venv/bin/tui-client demo --as charlie")
    no_keys = guide.update(replace(JOINED, charlie_in_room=True, charlie_joined=True, charlie_got_keys=False))
    assert "reads what is written from now on" in no_keys.text
    gone = guide.update(replace(JOINED, server_gone=True))
    assert gone.step == "gone" and gone.tone == "warning" and "ctrl+q quits" in gone.text
