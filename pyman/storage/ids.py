"""Container ids and generated names (adjective_noun, as Podman and Docker make them)."""

from __future__ import annotations

import os

# os.urandom, as the secrets module uses, without importing secrets (hmac, hashlib, random:
# ~3.5 ms on the path of every command that lists or makes containers)

ADJECTIVES = (
    "admiring agitated amazing bold brave busy calm clever cool dazzling eager ecstatic "
    "elegant epic festive focused friendly funny gallant gifted happy hopeful jolly keen "
    "kind lucid magical modest nice nifty optimistic peaceful quirky relaxed serene sharp "
    "silly stoic sweet tender trusting upbeat vibrant wizardly youthful zealous"
).split()
NOUNS = (
    "archimedes babbage bohr curie darwin dijkstra einstein euler faraday fermat galileo "
    "gauss hopper hypatia kepler knuth lamarr lovelace maxwell meitner newton noether pascal "
    "ritchie shannon tesla thompson torvalds turing wozniak"
).split()


def new_id() -> str:
    return os.urandom(32).hex()


def _pick(words: list[str]) -> str:
    return words[int.from_bytes(os.urandom(4), "big") % len(words)]


def new_name(taken: set[str]) -> str:
    for _ in range(100):
        name = f"{_pick(ADJECTIVES)}_{_pick(NOUNS)}"
        if name not in taken:
            return name
    return f"pyman_{os.urandom(4).hex()}"
