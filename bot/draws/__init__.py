"""Draws by lot: people's sortition profiles, committed draws with a public
seed, invitations and replacements, and the council they make."""
