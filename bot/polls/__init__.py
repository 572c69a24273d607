"""Polls: open and secret ballots (single, approval, ranked, times), closing and
counting them, and the results."""
