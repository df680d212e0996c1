"""``SpoolIndex.sequence``: the digest of every member read, as the member cache records it
(``WholeBackup.members``): the same members give the same digest, whatever the code's shortcuts."""

from __future__ import annotations

import hashlib

from backup2gitops.generation.spool import COPIES, SpoolIndex


def test_the_sequence_is_its_names_keys_digests_and_copies_hashed_in_order() -> None:
    """Names of every length a tar name can have (past the lengths made once, 256 and more),
    undecodable bytes included, against the digest written out the long way."""
    index = SpoolIndex()
    names = hashlib.blake2b(digest_size=20)
    keys, digests, copies = [], b"", b""
    for size in range(0, 600, 7):
        name = b"n" * size + b"\xff"
        key, digest, copy = f"gr\0ns\0m{size}", bytes([size % 256]) * 16, COPIES[size % 3]
        index.add(key, digest, size, name, size * 3, copy)
        names.update(str(len(name)).encode() + b":")
        names.update(name)
        keys.append(key)
        digests += digest
        copies += bytes([size % 3])
    expected = hashlib.blake2b(b"members 1\n", digest_size=20)
    expected.update(names.digest())
    expected.update("\n".join(keys).encode())
    expected.update(b"\n%d\n" % len(keys))
    expected.update(digests)
    expected.update(copies)
    assert index.sequence() == expected.hexdigest()
