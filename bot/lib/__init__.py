"""Pure libraries: rules and formats that know neither the database nor a request
(dates people type, vote counting, calendars, spreadsheets, sortition). They may
use the catalogue (:mod:`bot.kernel.i18n`), nothing else of the bot.
"""
