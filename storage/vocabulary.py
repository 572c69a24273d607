"""The party's vocabulary: the roles people hold, the scopes they hold them at, and
the statuses and kinds the records take. Plain strings, stored as they are.

The database models (:mod:`storage.models`) and the bot both speak it; it
imports nothing, so any layer may.
"""

from __future__ import annotations

# Branch lifecycle, in order.
PROPOSED, FORMING, ACTIVE, AFFILIATED = "proposed", "forming", "active", "affiliated"
BRANCH_STATUSES = (PROPOSED, FORMING, ACTIVE, AFFILIATED)
# Not a status a branch holds: the step in a branch's history where another was merged in.
MERGED = "merged"

# Role names and scope kinds.
ORGANISER, TREASURER, ADMIN = "organiser", "treasurer", "admin"
ROLES = (ORGANISER, TREASURER, ADMIN)
SCOPE_BRANCH, SCOPE_REGION, SCOPE_NATIONAL = "branch", "region", "national"
NATIONAL_SCOPE_ID = 0  # role grants at national level use scope_id 0 (NULLs are never unique)

# A canvassing session's sign-ups.
GOING, WAITING = "going", "waiting"

# Meetings.
ONLINE, IN_PERSON, ASSEMBLY = "online", "in_person", "assembly"
MEETING_KINDS = (ONLINE, IN_PERSON, ASSEMBLY)
RSVP_GOING, RSVP_MAYBE, RSVP_NO, RSVP_WAITING = "going", "maybe", "no", "waiting"
# The setting a person turns off to get no reminder before the meetings they go to:
# stored, when off, as an announcement opt-out of this "level" (storage.models).
MEETING_REMINDERS = "meetings"

# Polls.
SINGLE, MULTI, RANKED, TIMES = "single", "multi", "ranked", "times"
# A proposal in the manner of Loomio: Agree, Abstain, Disagree, Block (options 0..3).
PROPOSAL = "proposal"
POLL_KINDS = (SINGLE, MULTI, RANKED, TIMES, PROPOSAL)

# A draw's invitations.
INVITED, ACCEPTED, DECLINED, EXPIRED = "invited", "accepted", "declined", "expired"
