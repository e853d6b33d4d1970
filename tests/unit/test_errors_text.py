"""Server errors turned into sentences with the next step (the CLI and the UI share them)."""

from __future__ import annotations

from tui_client.engine.errors_text import LAST_MEMBER, explain, is_last_member
from tui_client.engine.models import Member, RoomSummary


def test_power_level_refusal():
    assert explain("could not send: user_level (0) < send_level (100) (M_FORBIDDEN)") == (
        "could not send: your power level in this room is 0 and this needs 100; ask one of the room's "
        "admins or moderators to raise your level (or to do it for you)"
    )
    # Synapse's longer form of the same refusal, for state events.
    assert explain("could not change the history visibility: You don't have permission to post that to the "
                   "room. user_level (0) < send_level (50) (M_FORBIDDEN)").endswith("this needs 50; ask one of "
                                                                                  "the room's admins or "
                                                                                  "moderators to raise your "
                                                                                  "level (or to do it for you)")


def test_joining_a_room_nobody_is_left_in():
    text = ("could not join !abc:localhost: Can't join remote room because no servers that are in the room "
            "have been provided. (M_UNKNOWN)")
    assert explain(text) == (
        "could not join !abc:localhost: nobody is left in this room (its last member left), so it cannot "
        "be joined any more; ask someone to invite you to another room"
    )


def test_other_common_errors():
    assert explain("could not join #nope:localhost: Room alias #nope:localhost not found (M_NOT_FOUND)") == (
        "could not join #nope:localhost: no room has this alias; check the spelling, or use the room's id (!…:server)"
    )
    assert explain("could not join !x:y: You are not invited to this room. (M_FORBIDDEN)").endswith(
        "this room is invite-only and you have no invite; ask a member to invite you")
    assert explain("could not send: Too Many Requests (M_LIMIT_EXCEEDED)") == (
        "could not send: the server asks us to slow down; wait a few seconds and try again")
    assert "log in again" in explain("sync failed: Invalid access token passed. (M_UNKNOWN_TOKEN)")


def test_unknown_errors_are_left_as_they_are():
    for text in ("wrong user name or password", "could not send: something odd (M_WEIRD)",
                 "cannot reach http://127.0.0.1:9: Connection refused", ""):
        assert explain(text) == text


def test_last_member():
    me, other = "@me:x", "@other:x"
    room = RoomSummary("!r:x", "R", None, True, "shared", (Member(me, "Me", "join"),), unread=0)
    assert is_last_member(room, me)
    invited = RoomSummary("!r:x", "R", None, True, "shared", (Member(me, "Me", "join"), Member(other, None, "invite")), 0)
    assert is_last_member(invited, me), "an invitee cannot keep the room alive"
    two = RoomSummary("!r:x", "R", None, True, "shared", (Member(me, "Me", "join"), Member(other, None, "join")), 0)
    assert not is_last_member(two, me)
    assert LAST_MEMBER.startswith("you were its last member")
