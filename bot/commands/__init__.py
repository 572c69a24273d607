"""The feature modules' handlers. Importing them registers nothing: the
composition root, bot.app, builds the command, button and answer tables from
the modules it lists."""
