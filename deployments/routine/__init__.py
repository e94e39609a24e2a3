"""The operations routine's jobs: plain functions ``job(*, now) -> str`` run on schedule.

Each returns a one-line, translated result and raises on failure. They read
the catalogs and the company schemas as the owner, set-based (one statement
for all schemas, or one per ``CHUNK`` schemas), and write platform records.
"""
