"""One person across platforms: /link codes that join two accounts into one
person, and /unlink."""
