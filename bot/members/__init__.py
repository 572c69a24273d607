"""Member lists and dues (issue 16): /members for organisers, treasurers and the
admins over them (search, filters, pages, a CSV export for their scope only),
and the dues renewals (a reminder once before dues end, the treasurers' weekly
list).
"""
