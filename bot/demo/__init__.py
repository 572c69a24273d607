"""A small demo party for the console: everything can be tried at once."""
