"""A person's settings: /reminders, one screen for the canvassing round-ups and
reminders and the announcements from their branch, their region and the party."""
