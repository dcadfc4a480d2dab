"""The Salesforce API client: login flows, HTTP and retries, error judgement, Bulk 2.0 jobs and
their result pages, limits and the REST resources the tap reads.

It imports neither singer_sdk nor the tap's settings: it takes plain values (a login URL, a flow
and its credentials, an API version), so it can be read, tested and reused on its own. The
Singer layer (the modules one level up) sits on top of it.
"""
