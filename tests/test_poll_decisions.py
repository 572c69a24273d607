"""Decisions beyond counting (issue 16): a quorum, a threshold, an abstain
choice, and proposals (Agree / Abstain / Disagree / Block) with reasons, through
the core on both databases; the counting rules themselves in test_voting_rules.py."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.kernel.messages import Reply
from bot.polls.rules import threshold_line
from storage.models import Ballot, Poll, Prompt
from tests.helpers import Chat, post_poll, snapshot
from tests.helpers import text as joined

# Frome's roll: Alice (organiser), Bob, Carol, Jo; Dan is a supporter (--everyone).


async def vote(demo: Chat, who: str, poll: int, option: int) -> list[Reply]:
    return await demo.press(who, f"pv:{poll}.{option}")


async def close(demo: Chat, poll: int) -> Reply:
    replies = await demo.say("Alice", f"/poll close {poll}")
    assert not replies[0].error, joined(replies)
    return replies[0]


async def test_a_motion_that_carries(demo: Chat) -> None:
    replies = await demo.say(
        "Alice", '/poll "Hire the hall?" "Yes" "No" --quorum 50% --threshold majority'
    )
    assert (
        "To carry: more than half of the votes cast, abstentions aside. Quorum: 50% of the roll must vote."
        in replies[0].text
    )
    await demo.press("Alice", "Post it")
    poll = 1
    sent = [t for _, t in await demo.outbox() if t.startswith("Poll: Hire the hall?")]
    assert sent and "Quorum: 50% of the roll must vote." in sent[0]
    for who, option in (("Carol", 0), ("Bob", 0), ("Jo", 1)):
        await vote(demo, who, poll, option)
    result = await close(demo, poll)
    assert (
        "Carried: Yes, with 2 of the 3 votes cast (2 needed: a simple majority (more than half))."
        in result.text
    )
    assert result.file is not None and result.file.content.startswith(b"\x89PNG")
    async with demo.core.db.transaction() as session:
        stored = await session.get(Poll, poll)
        assert stored is not None and stored.result is not None
        assert stored.result["decision"]["outcome"] == "carried"
        assert threshold_line(stored.result) == 2  # the chart's dashed line


async def test_a_motion_that_misses_its_quorum(demo: Chat) -> None:
    poll = await post_poll(demo, "Alice", '"Hire the hall?" "Yes" "No" --quorum 75%')
    await vote(demo, "Carol", poll, 0)
    await vote(demo, "Bob", poll, 0)
    result = await close(demo, poll)
    # Unanimous, but too few voted.
    assert (
        "Not carried: the quorum was not met (2 of 4 on the roll voted; 3 needed)." in result.text
    )
    assert "Carried" not in result.text


async def test_a_motion_that_misses_a_two_thirds_threshold(demo: Chat) -> None:
    poll = await post_poll(
        demo, "Alice", '"Change the rules?" "Yes" "No" --threshold 2/3 --everyone'
    )
    for who, option in (("Alice", 0), ("Bob", 0), ("Carol", 0), ("Jo", 1), ("Dan", 1)):
        await vote(demo, who, poll, option)
    result = await close(demo, poll)
    # 3 of 5 is a majority, but not two thirds (4 of 5 would be).
    assert (
        "Not carried: the threshold was missed (Yes has 3 of the 5 votes cast; 4 needed: two thirds)."
        in result.text
    )


async def test_abstaining_counts_toward_the_quorum_not_the_threshold(demo: Chat) -> None:
    replies = await demo.say("Alice", '/poll "Hire the hall?" "Yes" "No" --abstain --quorum 75%')
    assert "3. Abstain" in replies[0].text
    await demo.press("Alice", "Post it")
    poll = 1
    await vote(demo, "Carol", poll, 0)
    await vote(demo, "Bob", poll, 2)
    await vote(demo, "Jo", poll, 2)
    result = await close(demo, poll)
    # Three of four voted (the quorum is met only with the two abstentions), and the
    # one vote counted is for: were abstentions against, 1 of 3 would not carry.
    assert "Carried: Yes, with 1 of the 1 votes cast" in result.text
    assert "2 abstentions count toward the quorum, not the threshold." in result.text
    assert "• Abstain: 2" in result.text


async def test_an_open_proposal_shows_reasons_and_reports_a_block_once(demo: Chat) -> None:
    replies = await demo.say("Alice", '/poll "We hire the hall for the assembly" --proposal')
    preview = replies[0].text
    assert "1. Agree" in preview and "4. Block" in preview
    await demo.press("Alice", "Post it")
    poll = 1
    replies = await vote(demo, "Carol", poll, 0)
    assert "Your vote is recorded: Agree." in replies[0].text and "Why?" in replies[0].text
    assert "without your name" in joined(await demo.say("Carol", "It is cheap and central"))
    await vote(demo, "Bob", poll, 2)
    await demo.say("Bob", "Too far   from the station")
    # Jo blocks, changes her mind, blocks again: the organisers hear of it once.
    await vote(demo, "Jo", poll, 3)
    await vote(demo, "Jo", poll, 0)
    await vote(demo, "Jo", poll, 3)
    assert "One line" in joined(await demo.say("Jo", "x" * 300))  # too long: asked again
    await demo.say("Jo", "We agreed to meet outdoors")
    blocks = [(who, t) for who, t in await demo.outbox() if "blocks the proposal" in t]
    assert blocks == [
        (
            "Alice",
            blocks[0][1],
        )
    ]
    assert blocks[0][1].startswith(
        "Jo blocks the proposal “We hire the hall for the assembly” (poll 1)."
    )
    result = (await close(demo, poll)).text
    assert "Not carried: the threshold was missed (1 of the 3 votes cast agree; 2 needed" in result
    assert "1 member blocks it." in result
    assert "Reasons given:" in result
    assert "• Agree: It is cheap and central" in result
    assert "• Disagree: Too far from the station" in result
    assert "• Block: We agreed to meet outdoors" in result
    assert "Jo" not in result and "Carol" not in result  # reasons name nobody


async def test_a_proposal_carries_with_agreement(demo: Chat) -> None:
    poll = await post_poll(demo, "Alice", '"We hire the hall" --proposal --quorum 1/2')
    await vote(demo, "Carol", poll, 0)
    await vote(demo, "Bob", poll, 0)
    await vote(demo, "Jo", poll, 1)  # abstains
    result = (await close(demo, poll)).text
    assert "The proposal carried: 2 of the 2 votes cast agree" in result
    assert "1 abstention counts toward the quorum, not the threshold." in result


async def test_a_secret_proposal_asks_no_reason_and_reports_no_block(demo: Chat) -> None:
    poll = await post_poll(demo, "Alice", '"We hire the hall" --proposal --secret')
    await demo.press("Jo", f"pollopen:{poll}")
    await demo.press("Jo", "☐ Block")
    cast = await demo.press("Jo", "Cast my vote")
    assert "secret ballot is cast" in cast[0].text and "Why?" not in cast[0].text
    # A second try is refused and counts for nothing.
    again = await demo.press("Jo", f"pollopen:{poll}")
    assert "already voted" in again[0].text
    await demo.say("Jo", "Because I object")  # no question is open: nothing is kept
    async with demo.core.db.transaction() as session:
        asked = await session.scalar(
            select(func.count()).select_from(Prompt).where(Prompt.kind == "pollreason")
        )
        assert asked == 0
        assert await session.scalar(select(func.count()).select_from(Ballot)) == 0
    assert not [t for _, t in await demo.outbox() if "blocks the proposal" in t]
    result = (await close(demo, poll)).text
    assert "1 member blocks it." in result
    assert "Reasons given" not in result and "Because I object" not in result


async def test_a_member_who_votes_twice_counts_once(demo: Chat) -> None:
    poll = await post_poll(demo, "Alice", '"Hire the hall?" "Yes" "No" --quorum 50%')
    for option in (0, 0, 1, 0):
        await vote(demo, "Carol", poll, option)
    await vote(demo, "Bob", poll, 1)
    result = (await close(demo, poll)).text
    assert "• Yes: 1" in result and "• No: 1" in result and "Ballots: 2." in result
    assert "Not carried: no option led (a tie, or no votes)." in result


async def test_bad_quorum_and_threshold_values_get_a_clear_answer(demo: Chat) -> None:
    await demo.say("Alice", "/help")
    before = await snapshot(demo.core.db)
    for line, said in (
        ('"Q?" "A" "B" --quorum 0%', "--quorum is the share of the roll"),
        ('"Q?" "A" "B" --quorum 150%', "--quorum is the share of the roll"),
        ('"Q?" "A" "B" --quorum lots', "--quorum is the share of the roll"),
        ('"Q?" "A" "B" --quorum', "--quorum needs a value"),
        ('"Q?" "A" "B" --threshold 40%', "--threshold is majority"),
        ('"Q?" "A" "B" --threshold most', "--threshold is majority"),
        ('"Q?" "A" "B" --threshold 3/0', "--threshold is majority"),
        ('"Q?" "A" "B" --multi --quorum 50%', "apply to one-choice polls and proposals"),
        ('"Q?" "A" "B" --ranked --abstain', "--abstain adds an Abstain choice"),
        ('"Q?" "A" "Abstain" --abstain', "Two options are the same"),
        ('"Q?" "A" "B" --proposal', "A proposal has its own choices"),
    ):
        replies = await demo.say("Alice", f"/poll {line}")
        assert replies[0].error and said in replies[0].text, (line, replies[0].text)
    after = await snapshot(demo.core.db)
    assert {k: v for k, v in after.items() if k != "audit_log"} == {
        k: v for k, v in before.items() if k != "audit_log"
    }


async def test_a_reason_by_command_and_who_may_give_one(demo: Chat) -> None:
    """/poll why works wherever plain replies do not reach the bot (Discord)."""
    poll = await post_poll(demo, "Alice", '"We hire the hall" --proposal')
    assert "Vote first" in joined(await demo.say("Carol", f"/poll why {poll} Too dear"))
    await vote(demo, "Carol", poll, 2)
    assert "without your name" in joined(await demo.say("Carol", f"/poll why {poll} Too dear"))
    secret = await post_poll(demo, "Alice", '"We buy a van" --proposal --secret')
    refused = await demo.say("Carol", f"/poll why {secret} Too dear")
    assert refused[0].error and "Only an open proposal takes reasons." in refused[0].text
    assert "• Disagree: Too dear" in (await close(demo, poll)).text
