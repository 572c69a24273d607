"""Polls: /poll, voting buttons, secret ballots, closing and results."""
