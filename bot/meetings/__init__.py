"""Meetings: arranging them from one typed line, answers with a waiting list,
reminders, attendance, and the calendar files."""
