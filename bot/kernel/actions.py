"""Every button action, named once.

A button carries ``action:id`` (:class:`bot.kernel.messages.Button`); the action is one
of these wire strings. They never change: buttons already sent to people's chats,
stored prompts and outbox rows hold them. Handlers register with
``@action(Action.X)`` (:mod:`bot.kernel.registry`) and buttons are built with
``Button(label, Action.X, id)``, so a reader can follow a button to its handler: ``grep -rn '@action(Action.X'``
finds it in its feature's package (named beside each group below).
"""

from __future__ import annotations

from enum import StrEnum, unique


@unique
class Action(StrEnum):
    # Accounts (bot/linking/)
    LINK_CONFIRM = "linkok"  # the account that asked for a link code says yes: link them
    LINK_REFUSE = "linkno"  # that account says no: nothing is linked
    UNLINK = "unlink"  # one linked account stops being part of the person's record

    # Privacy and consent (bot/privacy/, bot/membership/)
    CONSENT = "consent"  # the person agrees to the privacy notice and is registered
    FORGET = "forget"  # the person confirms deleting their data
    FORGET_CANCEL = "cancel"  # the person keeps their data after all (a /forget prompt)

    # Membership (bot/membership/)
    JOIN = "join"  # join the branch found for a place
    MOVE = "move"  # move from one's branch to another
    PROPOSE = "propose"  # propose a new branch for a place with none
    VOLUNTEER = "volunteer"  # offer to organise a proposed branch
    UNJOIN = "unjoin"  # the Undo under a join
    REJOIN = "rejoin"  # the Undo under /leave

    # Organising (bot/branches/)
    MEMBERS = "members"  # staff: list a branch's members
    UNDO = "undo"  # undo a role change or a dues entry
    BRANCH_MERGE = "brmerge"  # confirm /branch merge
    BRANCH_MERGE_CANCEL = "brmerge-no"  # cancel /branch merge
    UNLINK_CHAT = "unlinkchat"  # the Undo under linking a group chat to a branch

    # Member lists (bot/members/)
    MEMBERS_PAGE = "mempage"  # another page of a /members list (its filter and search kept)

    # Announcements (bot/announcements/)
    ANNOUNCE_SEND = "annsend"  # send a previewed announcement
    ANNOUNCE_CANCEL = "anncancel"  # drop a previewed announcement: nothing is sent

    # Settings (bot/settings/)
    SETTING = "set"  # turn one of one's reminders or announcements on or off (/reminders)
    LANGUAGE = "lang"  # read the bot in this language, or "auto": the platform's (/language)
    TIMEZONE = "tz"  # keep this time zone (a suggestion of /timezone), or "reset": the branch's

    # Polls (bot/polls/)
    POLL_POST = "pollpost"  # post a drafted poll
    POLL_CANCEL = "pollcancel"  # drop a drafted poll
    POLL_OPEN = "pollopen"  # open one's private ballot for a poll
    POLL_VOTE = "pv"  # vote for one option (single choice)
    POLL_TOGGLE = "pm"  # tick or untick an option (multiple choice)
    POLL_CLEAR = "pmclear"  # untick everything (multiple choice)
    POLL_RANK = "pr"  # add an option to one's ranking (ranked choice)
    POLL_CAST = "pc"  # cast the ticked or ranked ballot
    POLL_RESULTS = "pollres"  # show a poll's results so far
    POLL_MEET = "pollmeet"  # schedule a meeting at a time poll's winning time

    # Meetings (bot/meetings/)
    MEETING_KIND = "mtkind"  # pick a new meeting's kind (online, face-to-face, assembly)
    MEETING_CONFIRM = "mtok"  # confirm a drafted meeting
    MEETING_DROP = "mtdrop"  # drop a drafted meeting
    MEETING_GOING = "mtgo"  # answer a meeting: going
    MEETING_MAYBE = "mtmaybe"  # answer a meeting: maybe
    MEETING_NO = "mtno"  # answer a meeting: can't
    MEETING_ICS = "mtics"  # a meeting's calendar file (.ics)
    MEETING_RESTORE = "mtrestore"  # undo a meeting's cancellation
    MEETING_HELD = "mtheld"  # open the attendance sheet: mark a meeting as held
    MEETING_CAME = "mtcame"  # tick or untick one person on the attendance sheet
    MEETING_GUEST = "mtguest"  # one guest more or fewer on the attendance sheet
    MEETING_DONE = "mtdone"  # the attendance sheet is finished: record the count
    MEETING_HERE = "mthere"  # "I'm here": check in to a meeting under way

    # Canvassing (bot/canvassing/)
    CANVASS_GO = "cvgo"  # sign up for a canvassing session
    CANVASS_NO = "cvno"  # cancel one's sign-up
    CANVASS_ICS = "cvics"  # a session's calendar file (.ics)
    CANVASS_REMOVE = "cvrm"  # remove a weekly session (or undo adding one)
    CANVASS_UNLOG = "cvunlog"  # the Undo under logging canvassing results
    CANVASS_HERE = "cvhere"  # "I'm here": check in to a running canvassing session
    CANVASS_CAME = "cvcame"  # an organiser ticks or unticks one person who came canvassing

    # Sortition (bot/draws/)
    PROFILE_OPT_IN = "pfin"  # opt in to (or change) one's sortition profile
    PROFILE_ANSWER = "pf"  # answer one profile question
    PROFILE_OPT_OUT = "pfout"  # opt out: one's profile is deleted
    DRAW_COMMIT = "drawok"  # commit a previewed draw
    DRAW_CANCEL = "drawno"  # drop a previewed draw: nothing is committed
    INVITATION_ACCEPT = "invyes"  # someone drawn accepts their invitation
    INVITATION_DECLINE = "invno"  # someone drawn declines it

    # Citizens' assemblies of residents (bot/assemblies/)
    ASSEMBLY_CONSENT = "asmok"  # a resident agrees to this assembly's notice: registered
    ASSEMBLY_ANSWER = "asmans"  # a resident answers one question (registrant.question.value)
    ASSEMBLY_CHANGE = "asmchg"  # a resident answers the questions again
    ASSEMBLY_WITHDRAW = "asmwd"  # a resident asks to withdraw their registration
    ASSEMBLY_WITHDRAW_CONFIRM = "asmwdok"  # ... and confirms: it is deleted
    ASSEMBLY_COMMIT = "asmcommit"  # an organiser commits a previewed assembly draw
    ASSEMBLY_DROP = "asmdrop"  # ... or drops it: nothing is committed
    ASSEMBLY_ACCEPT = "asmyes"  # a resident drawn accepts their place
    ASSEMBLY_DECLINE = "asmno"  # ... or declines it: the next is drawn
