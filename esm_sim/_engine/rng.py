"""
Seeded, named, reproducible randomness without the ``random`` module.

One :class:`Rng` per simulation, built from the seed. ``child(name)`` derives an
independent stream from the parent's key and a name through BLAKE2b, so adding
a new consumer never shifts the numbers another consumer draws (and nothing
depends on ``hash()``, which changes with PYTHONHASHSEED). Draws use SplitMix64,
a tiny generator that is the same on every platform and Python version.
"""

from __future__ import annotations

import hashlib

_MASK64 = (1 << 64) - 1


class Rng:
    """A SplitMix64 stream with a stable key; derive sub-streams with :meth:`child`."""

    __slots__ = ("_state", "key")

    def __init__(self, key: bytes) -> None:
        self.key = key
        self._state = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")

    @classmethod
    def from_seed(cls, seed: int) -> Rng:
        """The root stream of a simulation."""
        return cls(b"esm_sim/" + str(seed).encode())

    def child(self, name: str) -> Rng:
        """An independent stream named ``name`` under this one."""
        key = self.key
        if len(key) > 64:
            # BLAKE2b keys are at most 64 bytes. Cutting a longer key (a root made
            # from a seed of more than 56 digits) would give two seeds that share
            # their first 56 digits the same children, so hash it down instead.
            key = hashlib.blake2b(key, digest_size=64).digest()
        return Rng(hashlib.blake2b(name.encode(), key=key, digest_size=32).digest())

    def next64(self) -> int:
        """The next 64 random bits (SplitMix64)."""
        self._state = (self._state + 0x9E3779B97F4A7C15) & _MASK64
        z = self._state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        return z ^ (z >> 31)

    def randbelow(self, n: int) -> int:
        """A uniform int in ``[0, n)`` (rejection sampling: no modulo bias)."""
        if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
            msg = f"n={n!r} must be a positive int"
            raise ValueError(msg)
        # Draw as many 64-bit words as n needs; for n <= 2**64 that is one word,
        # and the draws are the same as they have always been.
        words = max(1, (n.bit_length() + 63) // 64)
        span = 1 << (64 * words)
        limit = span - (span % n)
        while True:
            x = 0
            for _ in range(words):
                x = (x << 64) | self.next64()
            if x < limit:
                return x % n

    def hex(self, digits: int) -> str:
        """``digits`` lowercase hex characters."""
        if not isinstance(digits, int) or isinstance(digits, bool) or digits < 0:
            msg = f"digits={digits!r} must be an int >= 0"
            raise ValueError(msg)
        out: list[str] = []
        while len(out) * 16 < digits:
            out.append(f"{self.next64():016x}")
        return "".join(out)[:digits]

    def uuid(self) -> str:
        """A version-4-shaped UUID string (36 characters), drawn from this stream."""
        # The same draws as hex(32), without its argument checks and list.
        h = "%016x%016x" % (self.next64(), self.next64())  # noqa: UP031 - faster than f-strings
        variant = "89ab"[int(h[16], 16) & 3]
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:32]}"


_MASK122 = (1 << 122) - 1
_MASK62 = (1 << 62) - 1


class UuidSequence:
    """
    Distinct version-4-shaped UUIDs from a counter, keyed by an :class:`Rng`.

    The n-th id is ``(n * mul + add) mod 2**122`` with an odd ``mul`` (a
    bijection, so ids never repeat) spread over a UUID's 122 free bits around
    the version nibble and the variant bits. Half the cost of two SplitMix64
    draws: request ids are made once per invocation, a hot path.
    """

    __slots__ = ("_add", "_mul", "_n")

    def __init__(self, rng: Rng) -> None:
        self._mul = ((rng.next64() << 64) | rng.next64()) & _MASK122 | 1
        self._add = ((rng.next64() << 64) | rng.next64()) & _MASK122
        self._n = 0

    def next(self) -> str:
        """The next id: 36 characters, ``xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx``."""
        self._n += 1
        x = (self._n * self._mul + self._add) & _MASK122
        # 48 bits, the version nibble 4, 12 bits, the variant bits 10, 62 bits.
        h = "%032x" % (
            ((x >> 74) << 80)
            | (0x4 << 76)
            | (((x >> 62) & 0xFFF) << 64)
            | (0x2 << 62)
            | (x & _MASK62)
        )
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
