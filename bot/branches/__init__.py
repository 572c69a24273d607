"""Branches: finding and joining them, their founding path (proposed, forming,
active, affiliated), merging two, regions, the group chats linked to them, and
the organiser's commands over them (/branch, /promote, /dues, /merge, /region...)."""
