"""Membership: /start, /help and consent, joining and leaving a branch (/join,
/leave, /me), sign-up links and their QR codes, importing a membership list."""
