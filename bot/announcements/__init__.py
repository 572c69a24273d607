"""Announcements: an organiser's or admin's message to the people of their branch,
region or the nation (/announce: a preview with how many it reaches, then Send),
and who turned announcements off at which level."""
