"""catalog/readers/grants.py on the real stack: table grants to roles other than the owner."""

from __future__ import annotations

from catalog.readers import grants
from catalog.readers.grants import Privilege
from tests.hostile import OWNER, QUOTED, READER, UNICODE, WRITER


def test_it_lists_grants_to_roles_other_than_the_owner_merged_across_grantors(hostile_conn):
    assert grants.privileges(hostile_conn) == [
        Privilege(QUOTED, "Orders", READER, ("SELECT",)),
        Privilege(QUOTED, "Orders", WRITER, ("INSERT", "SELECT", "UPDATE")),
        Privilege("public", "Order Summary", "PUBLIC", ("SELECT",)),
        Privilege(UNICODE, "Customers", OWNER, ("REFERENCES", "SELECT")),
    ]
