"""Citizens' assemblies of residents: panels of people who live in an area (not
members) drawn by lot to mirror its population, to advise the party.

1. **Open.** An organiser opens an assembly for an area of postcode prefixes:
   their branch's, a region's (its whole area or prefixes within it: the
   region's organisers and admins) or the party's (national staff); its level
   decides who runs it. Title, seats, the days it sits, when registration
   closes, the categories residents declare (the configured ones plus its
   own), practical details and the retention period (``/assembly``).
2. **Register.** Residents register through a public link (a Telegram deep link
   ``/start asm-CODE`` and its QR code for letters, ``/register CODE`` on Discord
   and the console): postcode and house checked against the area, consent to
   this assembly's notice, answers as buttons. No Person is made: a registrant is
   keyed to the platform account that registered, and the address only as a
   keyed hash (one person a household). They see, change or withdraw it with
   /register CODE; /mydata and /forget cover it.
3. **Targets.** Census shares per value (typed in chat or ``organiser assembly
   targets``) give the quotas: rounded to sum to the seats, within a tolerance,
   shown with each value's coverage and the relaxation if they cannot be met.
4. **Draw.** The councils' engine and record (``bot.lib.sortition``) with the
   census quotas and one person a household, previewed, committed before the
   public seed exists, drawn when two witnesses enter it; verifiable offline.
5. **Invitations.** As for councils: Accept / Decline, reminders, silence a
   decline, each vacancy filled under the committed rule; with the practical
   details. **Retention:** registrants' data is deleted once the period after the
   assembly is over.

Modules: ``rules`` (codes, categories, census quotas, coverage, the household
key, dates), ``queries``, ``texts``; ``registration`` (the household key,
registering, withdrawing), ``drawing`` (preview, commit, the draw),
``invitations`` (invitations, replacements, the reminder sweep), ``retention``
(the purge); ``access`` (who opens one for which area, who runs it, who
witnesses), and the handlers:
``registration_handlers`` (/register and its buttons), ``assembly_handlers``
(/assembly), ``invitation_handlers`` (Accept, Decline).
"""
