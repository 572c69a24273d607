"""The edges: the console chat, the command line (and, later, Telegram, Discord, the scheduler)."""
