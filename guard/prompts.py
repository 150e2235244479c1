"""Prompts at rest: AES-256-GCM, bound to the screening they belong to."""

from __future__ import annotations

import os
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE_BYTES = 12


class PromptCipher:
    def __init__(self, key: bytes, random_bytes: Callable[[int], bytes] = os.urandom) -> None:
        if len(key) != 32:
            raise ValueError("the prompt key must be 32 bytes (AES-256)")
        self._aead = AESGCM(key)
        self._random = random_bytes

    def encrypt(self, secret: bytes, screening_id: str) -> bytes:
        """nonce || ciphertext; the screening id is authenticated so a ciphertext cannot be moved to another row."""
        nonce = self._random(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, secret, screening_id.encode())

    def decrypt(self, blob: bytes, screening_id: str) -> bytes:
        nonce, ciphertext = blob[:_NONCE_BYTES], blob[_NONCE_BYTES:]
        return self._aead.decrypt(nonce, ciphertext, screening_id.encode())
