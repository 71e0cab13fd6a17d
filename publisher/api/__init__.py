"""REST API v1: the contract dispatch centres, crisis tools and integrators are written against."""
