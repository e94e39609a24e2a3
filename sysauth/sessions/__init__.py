"""The session engine: sessions in ``sysauth_session`` of the host's schema.

``base`` holds the rules (status, expiry, last seen, the signed-in user);
``db`` is the small store that reads and writes the rows. The same engine
serves company hosts (each company's schema, runtime role) and the public host
(public schema, platform role, platform staff whose company is NULL).
"""
