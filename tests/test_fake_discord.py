"""The fake Discord speaks REST v10 and the gateway well enough for a real discord.py bot."""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.fake_discord import (
    ALL_PERMISSIONS,
    APPLICATION_ID,
    BOT_ID,
    CHANNELS,
    EPHEMERAL,
    GUILD_ID,
    GUILD_NAME,
    TOKEN,
    FakeDiscord,
)

ALICE, BOB = 301, 302
BRANCHES = ["Bath", "Bristol", "Brighton", "Cardiff"]


class Act(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"act:(?P<id>\d+)"):
    """A persistent button whose custom_id carries an id."""

    pressed: ClassVar[list[tuple[int, int]]] = []

    def __init__(self, id: int) -> None:
        super().__init__(discord.ui.Button(label="Act", custom_id=f"act:{id}"))
        self.id = id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Button[Any],
        match: re.Match[str],
        /,
    ) -> Act:
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        self.pressed.append((self.id, interaction.user.id))
        await interaction.response.edit_message(content=f"Done {self.id}", view=None)


class Slow(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"slow:(?P<n>\d+)"):
    """Acknowledges at once (type 6), then edits the message it is on."""

    def __init__(self, n: int) -> None:
        super().__init__(discord.ui.Button(label="Slow", custom_id=f"slow:{n}"))
        self.n = n

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Button[Any],
        match: re.Match[str],
        /,
    ) -> Slow:
        return cls(int(match["n"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer()
        await interaction.edit_original_response(content=f"Slow {self.n} done")


class Survey(discord.ui.Modal, title="Survey"):
    answer: discord.ui.TextInput[Any] = discord.ui.TextInput(label="Why?", custom_id="why")

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.send_message(f"Thanks: {self.answer.value}", ephemeral=True)


class OrganiserBot(commands.Bot):
    def __init__(self) -> None:
        intents = discord.Intents.default()  # no message_content
        super().__init__(
            command_prefix=commands.when_mentioned, intents=intents, guild_ready_timeout=0.05
        )
        self.events: list[str] = []
        self.seen: list[Any] = []
        self._add_commands()

    async def setup_hook(self) -> None:
        self.add_dynamic_items(Act, Slow)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py sleeps 5 s before identifying again (Discord's identify rate limit)."""

    async def on_resumed(self) -> None:
        self.events.append("resumed")

    async def on_message(self, message: discord.Message) -> None:
        self.seen.append((message.author.id, message.content))

    def _add_commands(self) -> None:
        tree = self.tree

        @tree.command(description="Join a branch")
        @app_commands.describe(branch="Your branch")
        async def join(interaction: discord.Interaction[Any], branch: str) -> None:
            await interaction.response.send_message(
                f"{interaction.user.id} joined {branch} ({interaction.locale.value})",
                ephemeral=True,
            )

        @join.autocomplete("branch")
        async def branch_names(
            interaction: discord.Interaction[Any], current: str
        ) -> list[app_commands.Choice[str]]:
            return [
                app_commands.Choice(name=b, value=b)
                for b in BRANCHES
                if b.lower().startswith(current.lower())
            ]

        @tree.command(description="Count slowly")
        async def count(interaction: discord.Interaction[Any], upto: int) -> None:
            await interaction.response.defer(ephemeral=True)
            await interaction.followup.send(f"counted to {upto}", ephemeral=True)
            await interaction.followup.send("and again", ephemeral=True)

        @tree.command(description="Post a button")
        async def button(interaction: discord.Interaction[Any]) -> None:
            view = discord.ui.View(timeout=None)
            view.add_item(Act(7))
            await interaction.response.send_message("Press it", view=view)

        @tree.command(description="Reply with a button that breaks the rules")
        async def broken(interaction: discord.Interaction[Any]) -> None:
            view = discord.ui.View()
            view.add_item(discord.ui.Button(label="x", custom_id="y" * 101))
            await interaction.response.send_message("Broken", view=view)

        @tree.command(description="Reply with two buttons sharing a custom_id")
        async def twins(interaction: discord.Interaction[Any]) -> None:
            view = discord.ui.View()
            view.add_item(discord.ui.Button(label="Yes", custom_id="pm:1.0"))
            view.add_item(discord.ui.Button(label="Clear", custom_id="pm:1.0"))
            await interaction.response.send_message("Ballot", view=view)

        @tree.command(description="Answer a survey")
        async def survey(interaction: discord.Interaction[Any]) -> None:
            await interaction.response.send_modal(Survey())

        @tree.command(description="Check a member")
        async def whois(interaction: discord.Interaction[Any], member: discord.Member) -> None:
            admin = interaction.permissions.administrator
            await interaction.response.send_message(f"{member.name} admin={admin}")

        branch = app_commands.Group(name="branch", description="Branch admin")
        meetings = app_commands.Group(name="meeting", description="Meetings", parent=branch)

        @meetings.command(description="Schedule a meeting")
        async def schedule(interaction: discord.Interaction[Any], day: str, hour: int) -> None:
            await interaction.response.send_message(f"{day} at {hour}")

        tree.add_command(branch)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        fake.user(ALICE, "alice", locale="de")
        fake.user(BOB, "bob", permissions=ALL_PERMISSIONS)
        yield fake


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[OrganiserBot]:
    Act.pressed = []
    client = OrganiserBot()
    async with fake.running(client):
        yield client


async def test_login_connect_and_ready(fake: FakeDiscord, bot: OrganiserBot) -> None:
    assert bot.user is not None and bot.user.id == BOT_ID
    assert bot.application_id == APPLICATION_ID
    guild = bot.get_guild(GUILD_ID)
    assert guild is not None and guild.name == GUILD_NAME
    assert sorted(c.name for c in guild.text_channels) == sorted(CHANNELS)
    assert [(r.method, r.path) for r in fake.requests[:2]] == [
        ("GET", "/users/@me"),
        ("GET", "/oauth2/applications/@me"),
    ]
    (conn,) = fake.connections
    assert conn.query == {"v": "10", "encoding": "json", "compress": "zlib-stream"}
    identify = next(f for f in fake.gateway_received if f["op"] == 2)
    assert identify["d"]["intents"] == discord.Intents.default().value
    assert fake.identify_count == 1 and fake.connected


async def test_sync_and_ephemeral_reply(fake: FakeDiscord, bot: OrganiserBot) -> None:
    synced = await bot.tree.sync()
    assert fake.sync_count == 1
    (put,) = fake.requests_to(f"/applications/{APPLICATION_ID}/commands", "PUT")
    assert {c["name"] for c in put.json} == {c.name for c in synced}
    join = next(c for c in fake.registered_commands() if c["name"] == "join")
    assert join["options"][0]["name"] == "branch" and join["options"][0]["type"] == 3

    hit = await fake.slash(ALICE, "join", {"branch": "Bath"})
    callback = await fake.wait_response(hit)
    assert callback["type"] == 4
    assert callback["data"]["content"] == f"{ALICE} joined Bath (de)"
    assert callback["data"]["flags"] == EPHEMERAL
    original = fake.original(hit)
    assert original is not None and original["interaction_metadata"]["user"]["id"] == str(ALICE)
    assert hit.payload["data"]["id"] == join["id"]  # the synced command's id


async def test_guild_sync_sub_commands_and_resolved_members(
    fake: FakeDiscord, bot: OrganiserBot
) -> None:
    guild = discord.Object(GUILD_ID)
    assert await bot.tree.sync(guild=guild) == []  # nothing copied yet
    bot.tree.copy_global_to(guild=guild)
    await bot.tree.sync(guild=guild)
    assert fake.sync_count == 2
    assert {c["name"] for c in fake.registered_commands(GUILD_ID)} >= {"join", "branch"}

    hit = await fake.slash(BOB, "branch meeting schedule", {"day": "Monday", "hour": 19})
    assert hit.payload["data"]["guild_id"] == str(GUILD_ID)
    (group,) = hit.payload["data"]["options"]
    assert group["type"] == 2 and group["options"][0]["type"] == 1
    assert (await fake.wait_response(hit))["data"]["content"] == "Monday at 19"

    hit = await fake.slash(BOB, "whois", {"member": ALICE})
    assert (await fake.wait_response(hit))["data"]["content"] == "alice admin=True"


async def test_defer_then_followups(fake: FakeDiscord, bot: OrganiserBot) -> None:
    hit = await fake.slash(ALICE, "count", {"upto": 3}, guild=False)
    assert hit.payload["user"]["id"] == str(ALICE) and "member" not in hit.payload
    callback = await fake.wait_response(hit)
    assert callback == {"type": 5, "data": {"flags": EPHEMERAL}}
    first, second = await fake.wait_followups(hit, 2)
    # The first follow-up fills the deferred "thinking" message; the second is new.
    assert first["id"] == str(hit.original_id) and first["content"] == "counted to 3"
    assert second["content"] == "and again" and second["flags"] == EPHEMERAL
    posts = fake.requests_to(f"/webhooks/{APPLICATION_ID}/*", "POST")
    assert [p.json["content"] for p in posts] == ["counted to 3", "and again"]
    assert [m["content"] for m in fake.messages_to(ALICE)] == ["counted to 3", "and again"]


async def test_dynamic_button_click_updates_message(fake: FakeDiscord, bot: OrganiserBot) -> None:
    # A button the bot posted in an earlier life: the fake makes up the message.
    hit = await fake.click(BOB, "act:42")
    callback = await fake.wait_response(hit)
    assert Act.pressed == [(42, BOB)]
    assert callback["type"] == 7
    assert callback["data"]["content"] == "Done 42" and callback["data"]["components"] == []
    assert fake.message(int(hit.payload["message"]["id"]))["content"] == "Done 42"

    # A button on a message the bot sends now: click finds that message.
    posted = await fake.slash(ALICE, "button", guild=False)
    await fake.wait_response(posted)
    hit = await fake.click(ALICE, "act:7", guild=False)
    await fake.wait_response(hit)
    assert hit.payload["message"]["id"] == str(posted.original_id)
    assert Act.pressed[-1] == (7, ALICE)
    assert fake.messages_to(ALICE)[-1]["content"] == "Done 7"


async def test_autocomplete_choices(fake: FakeDiscord, bot: OrganiserBot) -> None:
    await bot.tree.sync()
    hit = await fake.autocomplete(ALICE, "join", {"branch": "br"})
    assert hit.payload["data"]["options"] == [
        {"name": "branch", "type": 3, "value": "br", "focused": True}
    ]
    callback = await fake.wait_response(hit)
    assert callback["type"] == 8
    assert callback["data"]["choices"] == [
        {"name": "Bristol", "value": "Bristol"},
        {"name": "Brighton", "value": "Brighton"},
    ]


async def test_modal_round_trip(fake: FakeDiscord, bot: OrganiserBot) -> None:
    opened = await fake.slash(ALICE, "survey")
    assert (await fake.wait_response(opened))["type"] == 9
    submitted = await fake.submit_modal(opened, {"why": "Because"})
    assert (await fake.wait_response(submitted))["data"]["content"] == "Thanks: Because"


async def test_direct_messages_and_refusal(fake: FakeDiscord, bot: OrganiserBot) -> None:
    alice = await bot.fetch_user(ALICE)
    sent = await alice.send("Welcome")
    assert [m["content"] for m in fake.messages_to(ALICE)] == ["Welcome"]
    assert sent.channel.id == fake.dm_channel_id(ALICE)
    assert fake.requests_to("/users/@me/channels")[0].json == {"recipient_id": ALICE}

    fake.refuse_dms(BOB)
    bob = await bot.fetch_user(BOB)
    with pytest.raises(discord.Forbidden) as refused:
        await bob.send("Hello?")
    assert refused.value.code == 50007 and refused.value.status == 403
    assert fake.messages_to(BOB) == []
    with pytest.raises(discord.NotFound):
        await bot.fetch_user(999)


async def test_file_upload_is_multipart(fake: FakeDiscord, bot: OrganiserBot) -> None:
    channel = bot.get_channel(CHANNELS["organising"])
    assert isinstance(channel, discord.TextChannel)
    csv = b"name,branch\nAlice,Bath\n"
    message = await channel.send("Members", file=discord.File(io.BytesIO(csv), "members.csv"))
    (request,) = fake.requests_to("/channels/*/messages", "POST")
    assert request.json["content"] == "Members"
    assert [(f.field, f.filename, f.content) for f in request.files] == [
        ("files[0]", "members.csv", csv)
    ]
    (stored,) = fake.channel_messages(CHANNELS["organising"])
    assert stored["attachments"][0]["filename"] == "members.csv"
    assert fake.attachment_bytes(stored["attachments"][0]) == csv
    assert await message.attachments[0].read() == csv


async def test_rate_limit_is_retried(fake: FakeDiscord, bot: OrganiserBot) -> None:
    fake.fail_next("/channels/*/messages", 429, method="POST", retry_after=0.05)
    channel = bot.get_channel(CHANNELS["general"])
    assert isinstance(channel, discord.TextChannel)
    await channel.send("Once")
    assert [r.status for r in fake.requests_to("/channels/*/messages", "POST")] == [429, 200]
    assert [m["content"] for m in fake.channel_messages(CHANNELS["general"])] == ["Once"]


async def test_message_errors(fake: FakeDiscord, bot: OrganiserBot) -> None:
    channel = bot.get_channel(CHANNELS["general"])
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.HTTPException) as too_long:
        await channel.send("x" * 2001)
    assert too_long.value.code == 50035 and "2000" in str(too_long.value)
    fake.fail_next("/channels/*/messages", 403)
    with pytest.raises(discord.Forbidden) as forbidden:
        await channel.send("hi")
    assert forbidden.value.code == 50013
    edited = await (await channel.send("draft")).edit(content="final")
    assert edited.content == "final" and fake.channel_messages(channel.id)[-1]["content"] == "final"


async def test_gateway_drop_resumes(fake: FakeDiscord, bot: OrganiserBot) -> None:
    await fake.disconnect()
    hit = await fake.slash(ALICE, "join", {"branch": "Bath"})  # waits for the reconnection
    assert (await fake.wait_response(hit))["type"] == 4
    assert fake.resume_count == 1 and fake.identify_count == 1
    assert fake.connections[-1].path == "/resume-gateway" and fake.connections[-1].resumed
    assert "resumed" in bot.events


async def test_gateway_drop_without_resume_identifies_again(
    fake: FakeDiscord, bot: OrganiserBot
) -> None:
    await fake.disconnect(resumable=False)
    hit = await fake.slash(ALICE, "join", {"branch": "Bath"})
    assert (await fake.wait_response(hit))["type"] == 4
    assert fake.identify_count == 2


async def test_user_messages_follow_intents(fake: FakeDiscord, bot: OrganiserBot) -> None:
    await fake.user_message(ALICE, "hello in private")
    await fake.user_message(BOB, "hello all", channel_id=CHANNELS["general"])
    hit = await fake.slash(ALICE, "join", {"branch": "Bath"})  # a later event: the others arrived
    await fake.wait_response(hit)
    # Without the message content intent a guild message comes without its text.
    assert bot.seen == [(ALICE, "hello in private"), (BOB, "")]


async def test_component_defer_then_edit_original(fake: FakeDiscord, bot: OrganiserBot) -> None:
    channel = bot.get_channel(CHANNELS["general"])
    assert isinstance(channel, discord.TextChannel)
    view = discord.ui.View(timeout=None)
    view.add_item(Slow(5))
    sent = await channel.send("Slow button", view=view)
    hit = await fake.click(ALICE, "slow:5")
    assert hit.payload["message"]["id"] == str(sent.id) and hit.guild_id == GUILD_ID
    assert (await fake.wait_response(hit))["type"] == 6
    await fake.wait_request("/webhooks/*/messages/@original", "PATCH")
    assert fake.message(sent.id)["content"] == "Slow 5 done"
    assert hit.edits == [fake.requests_to("/webhooks/*/messages/@original")[0].json]


async def test_refused_callback_fails_the_wait(fake: FakeDiscord, bot: OrganiserBot) -> None:
    hit = await fake.slash(ALICE, "broken")
    with pytest.raises(AssertionError, match="50035"):
        await fake.wait_response(hit)


async def test_a_reply_with_repeated_custom_ids_is_refused(
    fake: FakeDiscord, bot: OrganiserBot
) -> None:
    hit = await fake.slash(ALICE, "twins")
    with pytest.raises(AssertionError, match="COMPONENT_CUSTOM_ID_DUPLICATED"):
        await fake.wait_response(hit)
    (refused,) = fake.requests_to(f"/interactions/{hit.id}/*/callback")
    assert refused.status == 400 and refused.response["code"] == 50035
    assert refused.response["errors"]["data"]["components"]["0"]["components"]["1"]["custom_id"][
        "_errors"
    ] == [
        {
            "code": "COMPONENT_CUSTOM_ID_DUPLICATED",
            "message": "Component custom id cannot be duplicated",
        }
    ]
    assert fake.channel_messages(CHANNELS["general"]) == []


def _row(*custom_ids: str) -> dict[str, Any]:
    return {
        "type": 1,
        "components": [
            {"type": 2, "style": 2, "label": c[:80], "custom_id": c} for c in custom_ids
        ],
    }


async def test_discord_limits_on_a_message_are_enforced(fake: FakeDiscord) -> None:
    """What Discord refuses with 400 "Invalid Form Body" (50035), naming the field:
    repeated custom_ids, more than 5 rows or 5 buttons a row, a custom_id over 100
    characters, content over 2000; by creating a message or by editing one."""
    general = f"{fake.api_base}/channels/{CHANNELS['general']}/messages"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bot {TOKEN}"}) as http:

        async def send(method: str, url: str, body: Any) -> tuple[int, Any]:
            async with http.request(method, url, json=body) as response:
                return response.status, await response.json()

        def refusal(status_body: tuple[int, Any]) -> tuple[int, int, Any]:
            status, body = status_body
            return status, body["code"], body.get("errors")

        twins = {"content": "x", "components": [_row("a:1", "b:1"), _row("a:1")]}
        assert refusal(await send("POST", general, twins)) == (
            400,
            50035,
            {
                "components": {
                    "1": {
                        "components": {
                            "0": {
                                "custom_id": {
                                    "_errors": [
                                        {
                                            "code": "COMPONENT_CUSTOM_ID_DUPLICATED",
                                            "message": "Component custom id cannot be duplicated",
                                        }
                                    ]
                                }
                            }
                        }
                    }
                }
            },
        )
        six_rows = {"content": "x", "components": [_row(f"r{i}") for i in range(6)]}
        status, code, errors = refusal(await send("POST", general, six_rows))
        assert (status, code) == (400, 50035)
        assert errors["components"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
        six_wide = {"content": "x", "components": [_row(*(f"b{i}" for i in range(6)))]}
        status, code, errors = refusal(await send("POST", general, six_wide))
        assert errors["components"]["0"]["components"]["_errors"][0]["code"] == (
            "BASE_TYPE_MAX_LENGTH"
        )
        too_long_id = {"content": "x", "components": [_row("y" * 101)]}
        status, code, errors = refusal(await send("POST", general, too_long_id))
        assert (status, code) == (400, 50035)
        assert errors["components"]["0"]["components"]["0"]["custom_id"]["_errors"][0]["code"] == (
            "BASE_TYPE_BAD_LENGTH"
        )
        status, code, errors = refusal(await send("POST", general, {"content": "z" * 2001}))
        assert errors["content"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
        # Within the limits: 5 rows of 5, 100-character ids, 2000 characters.
        full = {
            "content": "z" * 2000,
            "components": [_row(*(f"{r}.{b}".ljust(100, "-") for b in range(5))) for r in range(5)],
        }
        status, posted = await send("POST", general, full)
        assert status == 200
        # An edit is held to the same rules, and a refused one changes nothing.
        status, body = await send("PATCH", f"{general}/{posted['id']}", twins)
        assert (status, body["code"]) == (400, 50035)
        assert fake.message(int(posted["id"]))["content"] == "z" * 2000
    assert [m["content"] for m in fake.channel_messages(CHANNELS["general"])] == ["z" * 2000]


async def test_reconnect_request_resumes(fake: FakeDiscord, bot: OrganiserBot) -> None:
    await fake.request_reconnect()
    hit = await fake.slash(ALICE, "join", {"branch": "Bath"})
    assert (await fake.wait_response(hit))["type"] == 4
    assert fake.resume_count == 1


async def test_discord_errors_over_raw_http(fake: FakeDiscord) -> None:
    hit_url = f"{fake.api_base}/interactions/1/nope/callback"
    async with aiohttp.ClientSession(headers={"Authorization": "Bot x"}) as http:

        async def post(url: str, body: Any) -> tuple[int, Any]:
            async with http.post(url, json=body) as response:
                assert response.headers["Content-Type"] == "application/json"
                return response.status, json.loads(await response.read())

        assert await post(hit_url, {"type": 4}) == (
            404,
            {"message": "Unknown interaction", "code": 10062},
        )
        assert (await post(f"{fake.api_base}/channels/1/messages", {"content": "x"}))[1][
            "code"
        ] == 10003
        general = f"{fake.api_base}/channels/{CHANNELS['general']}/messages"
        assert (await post(general, {"content": ""}))[1]["code"] == 50006
        assert (await post(f"{fake.api_base}/users/@me/channels", {"recipient_id": 9}))[1][
            "code"
        ] == 50033
        bad = [{"name": "Join", "description": "Upper case", "type": 1}]
        async with http.put(
            f"{fake.api_base}/applications/{APPLICATION_ID}/commands", json=bad
        ) as r:
            assert r.status == 400 and (await r.json())["errors"]["0"]["name"]
        assert fake.sync_count == 0


async def test_members_intent_gets_members_chunked(fake: FakeDiscord) -> None:
    intents = discord.Intents.default()
    intents.members = True
    client = discord.Client(intents=intents, guild_ready_timeout=0.05)
    async with fake.running(client):
        guild = client.get_guild(GUILD_ID)
        assert guild is not None and guild.chunked
        alice = guild.get_member(ALICE)
        assert alice is not None and alice.name == "alice"
        assert any(f["op"] == 8 for f in fake.gateway_received)
        fetched = await guild.fetch_member(BOB)
        assert fetched.name == "bob"


async def test_wrong_token_fails_fast() -> None:
    async with FakeDiscord(token="right") as fake:
        client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.05)
        with pytest.raises(discord.LoginFailure):
            async with fake.running(client, "wrong"):
                pass
        assert fake.requests[0].status == 401


async def test_a_first_response_later_than_discord_allows_is_refused() -> None:
    """Discord drops an interaction not answered within 3 seconds (shortened
    here): a late first response gets 404 with code 10062, and the user sees
    "This interaction failed"; one deferred in time may follow up after it."""
    gate = asyncio.Event()
    refused: list[discord.HTTPException] = []
    client = OrganiserBot()

    @client.tree.command(description="Answer once let go")
    async def late(interaction: discord.Interaction[Any]) -> None:
        await gate.wait()
        try:
            await interaction.response.send_message("too late")
        except discord.HTTPException as exc:
            refused.append(exc)

    @client.tree.command(description="Defer, then answer once let go")
    async def held(interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer()
        await gate.wait()
        await interaction.followup.send("in time")

    async with FakeDiscord(answer_within=0.3) as fake:
        fake.user(ALICE, "alice")
        async with fake.running(client):
            late_hit = await fake.slash(ALICE, "late")
            held_hit = await fake.slash(ALICE, "held")
            assert (await fake.wait_response(held_hit))["type"] == 5
            await fake.wait_until(lambda: late_hit.failed, what="the late interaction to fail")
            await fake.wait_until(lambda: time.monotonic() >= held_hit.deadline)
            gate.set()
            (answer,) = await fake.wait_followups(held_hit)
            await fake.wait_until(lambda: refused, what="the late answer to be refused")
    assert (refused[0].status, refused[0].code) == (404, 10062)
    assert late_hit.failed and late_hit.callback is None
    assert fake.channel_messages(CHANNELS["general"]) == [answer]
    assert answer["content"] == "in time" and not held_hit.failed
