"""RFC 9162 Merkle trees against the published vectors, and proofs as properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guard.provenance import merkle

# RFC 6962 / transparency-dev reference leaves and the tree heads for sizes 0..8.
LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION_5_OF_8 = [
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
]


@pytest.mark.parametrize("size", range(9))
def test_roots_match_the_reference_vectors(size: int) -> None:
    tree = merkle.MerkleTree([merkle.leaf_hash(leaf) for leaf in LEAVES])
    assert tree.root(size).hex() == ROOTS[size]
    assert merkle.root_of([merkle.leaf_hash(leaf) for leaf in LEAVES[:size]]).hex() == ROOTS[size]


def test_inclusion_proof_matches_the_reference_vector() -> None:
    tree = merkle.MerkleTree([merkle.leaf_hash(leaf) for leaf in LEAVES])
    assert [p.hex() for p in tree.inclusion_proof(5, 8)] == INCLUSION_5_OF_8


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    a, b = merkle.leaf_hash(b"a"), merkle.leaf_hash(b"b")
    assert merkle.leaf_hash(a + b) != merkle.node_hash(a, b)


sizes = st.integers(min_value=1, max_value=300)


def _tree(n: int) -> merkle.MerkleTree:
    return merkle.MerkleTree([merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)])


@settings(max_examples=200, deadline=None)
@given(data=st.data(), n=sizes)
def test_every_inclusion_proof_verifies_and_any_flipped_byte_fails(data, n: int) -> None:
    tree = _tree(n)
    size = data.draw(st.integers(1, n))
    index = data.draw(st.integers(0, size - 1))
    proof = tree.inclusion_proof(index, size)
    merkle.verify_inclusion(tree.leaf(index), index, size, proof, tree.root(size))
    if proof:
        which = data.draw(st.integers(0, len(proof) - 1))
        byte = data.draw(st.integers(0, 31))
        bad = list(proof)
        bad[which] = bad[which][:byte] + bytes([bad[which][byte] ^ 0x01]) + bad[which][byte + 1:]
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(tree.leaf(index), index, size, bad, tree.root(size))
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(merkle.leaf_hash(b"forged"), index, size, proof, tree.root(size))
    if size > 1:
        other = (index + 1) % size
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(tree.leaf(index), other, size, proof, tree.root(size))


@settings(max_examples=200, deadline=None)
@given(data=st.data(), n=sizes)
def test_every_consistency_proof_verifies_and_any_flipped_byte_fails(data, n: int) -> None:
    tree = _tree(n)
    new = data.draw(st.integers(1, n))
    old = data.draw(st.integers(1, new))
    proof = tree.consistency_proof(old, new)
    merkle.verify_consistency(old, new, tree.root(old), tree.root(new), proof)
    if proof:
        which = data.draw(st.integers(0, len(proof) - 1))
        byte = data.draw(st.integers(0, 31))
        bad = list(proof)
        bad[which] = bad[which][:byte] + bytes([bad[which][byte] ^ 0x80]) + bad[which][byte + 1:]
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(old, new, tree.root(old), tree.root(new), bad)
    if old < new:
        forked = merkle.MerkleTree([tree.leaf(i) for i in range(old - 1)] + [merkle.leaf_hash(b"x")])
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(old, new, forked.root(old), tree.root(new), proof)


def test_proof_for_another_size_fails_on_the_final_sn_check() -> None:
    tree = _tree(13)
    proof = tree.inclusion_proof(4, 8)
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(tree.leaf(4), 4, 13, proof, tree.root(13))
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(3, 13, tree.root(3), tree.root(13), tree.consistency_proof(3, 12))


def test_requests_beyond_the_tree_are_refused() -> None:
    tree = _tree(5)
    with pytest.raises(merkle.ProofError):
        tree.inclusion_proof(5, 5)
    with pytest.raises(merkle.ProofError):
        tree.consistency_proof(2, 6)
