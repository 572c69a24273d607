"""Meetings: /meeting, /meetings, RSVP buttons, reminders and minutes."""
