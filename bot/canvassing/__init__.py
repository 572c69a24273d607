"""Canvassing: weekly slots and their sessions, sign-ups with a waiting list,
results and their charts, campaigns, the weekly round-up and evening reminders."""
