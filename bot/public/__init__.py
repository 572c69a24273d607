"""The public pages, on the open web for people without the bot (the press, a
voter, a member on a laptop): a draw's page whose checks run in the visitor's
browser (``/draws/ID``), the branch directory (``/branches``) and calendar feeds
(a branch's public meetings; a person's own, behind a token they can revoke,
asked for with ``/calendar``). No page needs a login; no page shows a person's
name or declared features.

``rules.py`` (choosing a language, what a record shows), ``queries.py`` (what a
page reads), ``texts.py`` (the HTML, given a ``Translator``), ``pages.py`` (a
page from the database: the workflow the web adapter calls) and ``static/``
(the pages' own script and style: nothing from anywhere else).
"""
