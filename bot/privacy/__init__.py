"""Privacy: /mydata and /forget, and how long what was said and done is kept."""
