#!/usr/bin/env python3
"""Write the flat-layout ("DB-IP City Lite as repackaged by ip-location-db") test fixtures.

The repackaged DB-IP City Lite databases come as two files, one per address
family, whose records are flat maps rather than GeoIP2's nested ones:

    {"city": "London", "country_code": "GB", "latitude": 51.5, "longitude": -0.12,
     "state1": "England", "state2": "", "postcode": "", "timezone": ""}

The real files we looked at store the coordinates as 32-bit floats, write an
empty string for a missing value, and name their database_type "city ipv4" or
"city ipv6"; the IPv4 file is an IPv4-only tree and the IPv6 file holds no IPv4
data. These fixtures copy that shape. Every value in them is invented for the
tests (realistic, but not DB-IP's data).

Needs the PyPI packages mmdb-writer and netaddr:

    python3 -m venv venv && venv/bin/pip install mmdb-writer netaddr
    venv/bin/python make_dbip_flat_fixture.py

It writes dbip-city-ipv4-test.mmdb and dbip-city-ipv6-test.mmdb next to itself.
"""

from pathlib import Path

from mmdb_writer import MMDBWriter, MmdbF32
from netaddr import IPSet

# A fixed build time (2024-01-01T00:00:00Z) so that reruns write the same bytes.
BUILD_EPOCH = 1704067200

HERE = Path(__file__).resolve().parent


class FixedEpochWriter(MMDBWriter):
    """An MMDBWriter whose metadata carries BUILD_EPOCH instead of the current time."""

    def _build_meta(self):
        meta = super()._build_meta()
        meta["build_epoch"] = BUILD_EPOCH
        return meta


def place(city, country_code, lat, lon, state1="", state2="", postcode="", timezone=""):
    """One flat record, with 32-bit float coordinates and "" for a missing value."""
    return {
        "city": city,
        "country_code": country_code,
        "latitude": MmdbF32(lat),
        "longitude": MmdbF32(lon),
        "postcode": postcode,
        "state1": state1,
        "state2": state2,
        "timezone": timezone,
    }


IPV4_NETWORKS = [
    ("81.2.69.0/24", place("London", "GB", 51.5085, -0.1257, state1="England")),
    (
        "2.125.160.0/24",
        place("Boxford", "GB", 51.4469, -1.3841, state1="England", state2="West Berkshire"),
    ),
    (
        "89.160.20.0/24",
        place("Linköping", "SE", 58.4109, 15.6216, state1="Östergötland County"),
    ),
    # Coordinates written as strings, as some converters do: still a valid answer.
    (
        "5.6.7.0/24",
        {
            "city": "Paris",
            "country_code": "FR",
            "latitude": "48.8566",
            "longitude": "2.3522",
            "state1": "Île-de-France",
        },
    ),
    # Odd record: wrong types everywhere. A lookup must give no answer, not fail.
    ("5.6.8.0/24", {"city": 42, "country_code": ["GB"], "latitude": {"deg": 1}}),
    # Empty record: only empty strings. No place, so no answer.
    ("5.6.9.0/24", {"city": "", "country_code": "", "state1": "", "postcode": ""}),
    # Private range holding data: must never be consulted (not a public address).
    ("10.0.0.0/8", place("Nowhere", "ZZ", 1.0, 1.0, state1="Private")),
]

IPV6_NETWORKS = [
    ("2a02:c7f::/32", place("London", "GB", 51.5085, -0.1257, state1="England")),
    ("2a01:4f8::/32", place("Falkenstein", "DE", 50.4779, 12.3713, state1="Saxony")),
]


def write(filename, ip_version, database_type, networks):
    """Write one database of the given address family."""
    writer = FixedEpochWriter(ip_version=ip_version, database_type=database_type)
    for cidr, record in networks:
        writer.insert_network(IPSet([cidr]), record)
    writer.to_db_file(str(HERE / filename))
    print(f"wrote {filename} ({database_type}, {len(networks)} networks)")


def main():
    write("dbip-city-ipv4-test.mmdb", 4, "city ipv4", IPV4_NETWORKS)
    write("dbip-city-ipv6-test.mmdb", 6, "city ipv6", IPV6_NETWORKS)


if __name__ == "__main__":
    main()
