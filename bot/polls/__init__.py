"""Polls: open and secret ballots (single, approval, ranked, times), closing and
counting them, and the results.

Rules that hold whatever the platform:

* **The roll is fixed when the poll opens.** Members with current dues in the
  poll's scope (with ``everyone``, supporters too) are written to
  ``poll_voters``; joining later adds no vote, and dues that lapse during the
  poll take none away.
* **One person, one vote.** An open ballot is one row per (poll, person),
  written by an upsert, so presses from two linked accounts at the same instant
  leave one ballot, the last. A secret ballot is cast by a conditional UPDATE
  of the roll (``voted`` false → true) in the same transaction as the ballot's
  INSERT: of two simultaneous presses, one casts and one is told it already has.
* **Secret means unlinkable.** A secret ballot holds the poll and the choice
  sealed under a key the database does not hold (:mod:`bot.polls.ballot_box`), under
  a random key, with no person, no time and (on SQLite, ``WITHOUT ROWID``) no
  insertion order; the roll holds who voted, with no time. The close writes
  ballots and roll anew (:func:`bot.polls.closing.reshuffle`) and a sweep
  vacuums the old rows away. So a secret ballot cannot be changed once cast: changing it would need
  exactly the link that must not exist. Results stay hidden until the poll
  closes.
* **Forgetting a voter changes no count.** Their places on rolls and their
  open ballots stay, naming nobody (:func:`bot.polls.queries.forget_voter`).
* **Closing happens once**, by a conditional UPDATE of ``closed_at``, whether
  the deadline's sweep or an organiser gets there first.
* **Decision rules.** A one-choice poll or a proposal may carry a quorum and a
  threshold, and an abstain choice that counts toward the quorum only
  (:func:`bot.lib.voting.decide`); its result says whether the motion carried.
  An open proposal asks each voter's reason and reports a Block to the
  organisers at once; a secret one does neither (either would tie a voter to
  their choice).

Where each job is: ``rules.py`` (valid choices, a choice in a button, the
count), ``queries.py`` (the scope, the roll, the ballots, the turnout),
``texts.py`` (an option as read, results as text, chart and CSV), ``casting.py``,
``closing.py`` (close, reshuffle, announce), ``proposals.py`` (a reason asked,
a Block reported) and ``sweeps.py`` (the timed close,
vacuum and reminder); ``ballot_box.py`` seals secret ballots. The handlers
parse, call those and reply: ``handlers.py`` routes /poll and lists a person's
open polls, ``draft.py`` reads /poll's words, ``post_handlers.py`` previews and
posts, ``vote_handlers.py`` holds the ballot's buttons, ``reason_handlers.py``
a proposal vote's reason, ``result_handlers.py``
results, close, audit and export; ``access.py`` the gates they share.
"""
