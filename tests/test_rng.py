"""Tests for esm_sim._engine.rng: seeded, named, reproducible randomness."""

from __future__ import annotations

import re

import pytest

from esm_sim._engine.rng import Rng, UuidSequence

_UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


class TestSeeding:
    """Rng.from_seed: the same seed gives the same draws."""

    def test_same_seed_same_draws(self) -> None:
        """Two streams from the same seed draw the same numbers."""
        a, b = Rng.from_seed(7), Rng.from_seed(7)
        assert [a.next64() for _ in range(50)] == [b.next64() for _ in range(50)]

    def test_different_seeds_differ(self) -> None:
        """Streams from different seeds draw different numbers."""
        assert Rng.from_seed(1).next64() != Rng.from_seed(2).next64()

    def test_values_pinned_for_seed_0(self) -> None:
        """Seed 0 draws these exact values, so a change in the generator is caught."""
        r = Rng.from_seed(0)
        assert [10223824440295720449, 9310037321132599103, 1965072425568580988] == [
            r.next64() for _ in range(3)
        ]

    def test_derived_values_pinned_for_seed_0(self) -> None:
        """uuid, hex and randbelow from seed 0 are pinned too."""
        r = Rng.from_seed(0)
        assert "8de25229-09c8-4601-8133-e59debbce73f" == r.uuid()
        assert "1b4556f5abee357c6dcb" == r.hex(20)
        assert [490, 744, 313, 160, 775] == [r.randbelow(1000) for _ in range(5)]

    def test_child_pinned_for_seed_0(self) -> None:
        """A named child of seed 0 draws a pinned value."""
        assert 10245583154722240098 == Rng.from_seed(0).child("a").next64()

    def test_splitmix64_reference_vector(self) -> None:
        """From state 0 the generator gives SplitMix64's published first output."""
        r = Rng(b"")
        r._state = 0
        assert 0xE220A8397B1DCDAF == r.next64()


class TestChild:
    """Rng.child: independent, stable sub-streams."""

    def test_child_is_stable(self) -> None:
        """The same name under the same parent gives the same stream."""
        a = Rng.from_seed(3).child("x")
        b = Rng.from_seed(3).child("x")
        assert [a.next64() for _ in range(5)] == [b.next64() for _ in range(5)]

    def test_child_does_not_depend_on_parent_draws(self) -> None:
        """A child is the same whether or not the parent has drawn before."""
        p1, p2 = Rng.from_seed(3), Rng.from_seed(3)
        for _ in range(10):
            p2.next64()
        assert p1.child("x").next64() == p2.child("x").next64()

    def test_adding_a_child_does_not_shift_another(self) -> None:
        """Creating and using another child leaves a child's draws unchanged."""
        parent = Rng.from_seed(5)
        alone = [parent.child("b").next64() for _ in range(1)]
        parent2 = Rng.from_seed(5)
        other = parent2.child("a")
        other.next64()
        b = parent2.child("b")
        assert alone == [b.next64()]

    def test_children_with_different_names_differ(self) -> None:
        """Differently named children draw different numbers."""
        parent = Rng.from_seed(5)
        assert parent.child("a").next64() != parent.child("b").next64()

    def test_child_differs_from_parent(self) -> None:
        """A child does not replay its parent's stream."""
        parent = Rng.from_seed(5)
        assert parent.child("a").next64() != Rng.from_seed(5).next64()

    def test_huge_seeds_have_distinct_children(self) -> None:
        """Seeds that share a long prefix of digits still get different children."""
        a = Rng.from_seed(10**70).child("x")
        b = Rng.from_seed(10**70 + 1).child("x")
        assert a.next64() != b.next64()

    def test_grandchildren_are_stable(self) -> None:
        """Nested children are as reproducible as children."""
        a = Rng.from_seed(1).child("x").child("y")
        b = Rng.from_seed(1).child("x").child("y")
        assert a.next64() == b.next64()


class TestUuid:
    """Rng.uuid: version-4-shaped ids."""

    def test_shape(self) -> None:
        """Every uuid is 36 characters, version nibble 4, variant 8, 9, a or b."""
        r = Rng.from_seed(11)
        for _ in range(200):
            u = r.uuid()
            assert 36 == len(u)
            assert _UUID4.fullmatch(u), u

    def test_variants_all_occur(self) -> None:
        """All four variant characters occur, so the variant is drawn, not fixed."""
        r = Rng.from_seed(11)
        assert {"8", "9", "a", "b"} == {r.uuid()[19] for _ in range(200)}

    def test_uuids_are_distinct(self) -> None:
        """A stream does not repeat its uuids."""
        r = Rng.from_seed(11)
        ids = [r.uuid() for _ in range(500)]
        assert len(ids) == len(set(ids))


class TestHex:
    """Rng.hex: lowercase hex of a given length."""

    @pytest.mark.parametrize("digits", [0, 1, 8, 15, 16, 17, 32, 33, 100])
    def test_length_and_alphabet(self, digits: int) -> None:
        """hex(n) has exactly n lowercase hex characters."""
        h = Rng.from_seed(0).hex(digits)
        assert digits == len(h)
        assert re.fullmatch(r"[0-9a-f]*", h)

    @pytest.mark.parametrize("digits", [-1, 2.5, True], ids=["negative", "float", "bool"])
    def test_invalid_digits(self, digits: object) -> None:
        """hex refuses a length that is not an int >= 0."""
        with pytest.raises(ValueError, match=r"^digits=.* must be an int >= 0$"):
            Rng.from_seed(0).hex(digits)  # type: ignore[arg-type]


class TestRandbelow:
    """Rng.randbelow: uniform ints in [0, n)."""

    @pytest.mark.parametrize("n", [1, 2, 3, 7, 1000, 2**63 + 1, 2**64, 2**64 + 1, 2**200])
    def test_bounds(self, n: int) -> None:
        """Every draw is in [0, n)."""
        r = Rng.from_seed(2)
        for _ in range(200):
            x = r.randbelow(n)
            assert 0 <= x < n

    def test_one_is_always_zero(self) -> None:
        """randbelow(1) is always 0."""
        r = Rng.from_seed(2)
        assert {0} == {r.randbelow(1) for _ in range(20)}

    def test_covers_small_range(self) -> None:
        """Small ranges are covered entirely."""
        r = Rng.from_seed(2)
        assert set(range(6)) == {r.randbelow(6) for _ in range(300)}

    def test_large_n_reaches_high_words(self) -> None:
        """For n above 2**64 draws also land above 2**64."""
        r = Rng.from_seed(2)
        assert any(r.randbelow(2**128) >= 2**64 for _ in range(10))

    @pytest.mark.parametrize("n", [0, -3, 2.0, True], ids=["zero", "negative", "float", "bool"])
    def test_invalid_n(self, n: object) -> None:
        """randbelow refuses n that is not a positive int."""
        with pytest.raises(ValueError, match=r"^n=.* must be a positive int$"):
            Rng.from_seed(0).randbelow(n)  # type: ignore[arg-type]


class TestUuidSequence:
    def test_ids_are_distinct_uuid4_shaped_and_seeded(self) -> None:
        """A UuidSequence gives distinct version-4-shaped ids, the same for the same key."""
        shape = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
        a, b = UuidSequence(Rng(b"k")), UuidSequence(Rng(b"k"))
        ids = [a.next() for _ in range(5000)]
        assert (5000, True) == (len(set(ids)), all(shape.fullmatch(i) for i in ids))
        assert ids[:10] == [b.next() for _ in range(10)]
        assert ids[0] != UuidSequence(Rng(b"other")).next()
