"""Alice's bot says what is true of the room when she answers (issue 16, item 8)."""

from __future__ import annotations

from tui_client.demo.bot import CHECKLIST, BotFacts, lines_for, reply_for


def bob(**kw) -> BotFacts:
    return BotFacts(localpart="bob", name="Bob", **kw)


def test_bob_who_got_alices_keys_is_told_so_and_asked_to_invite_charlie():
    facts = bob(shared_by="Alice", got_keys=True)
    assert "my client shared the room keys with you" in reply_for(facts, 0)
    assert reply_for(facts, 1).startswith("Dave's message is the one you cannot read")
    assert reply_for(facts, 2).startswith("Try inviting Charlie")
    assert reply_for(facts, 9) == CHECKLIST


def test_a_device_that_got_no_keys_is_not_told_it_did():
    facts = bob(shared_by="Alice", got_keys=False)
    first = reply_for(facts, 0)
    assert "shared the room keys with you" not in first
    assert "No keys to what we wrote before you joined reached the device you are writing from" in first
    assert not any("Dave's message is the one you cannot read" in line for line in lines_for(facts))


def test_no_invitation_to_invite_charlie_once_he_is_there():
    invited = lines_for(bob(shared_by="Alice", got_keys=True, charlie="invite", charlie_got_keys=True))
    joined = lines_for(bob(shared_by="Alice", got_keys=True, charlie="join", charlie_got_keys=True))
    for lines in (invited, joined):
        assert not any("Try inviting Charlie" in line for line in lines)
    assert "Charlie has your invite" in invited[2]
    assert joined[2].startswith("Charlie is here too!") and "🔑 shared by Bob" in joined[2]
    bare = lines_for(bob(shared_by="Alice", got_keys=True, charlie="join", charlie_got_keys=False))
    assert "No keys went with the invite" in bare[2]


def test_charlie_hears_about_bobs_keys_only_if_they_reached_him():
    got = BotFacts(localpart="charlie", name="Charlie", shared_by="Bob", got_keys=True)
    assert "Bob's client passed on the keys I had shared with him" in reply_for(got, 0)
    none = BotFacts(localpart="charlie", name="Charlie")
    assert "passed on" not in reply_for(none, 0) and "stay unreadable there" in reply_for(none, 0)
    assert reply_for(none, 1) == CHECKLIST
