import pytest
from cryptography.fernet import Fernet

from opiekun.core import secretbox


def test_sealed_values_open_with_the_key_and_rotation_keeps_old_ones_readable(settings):
    old = Fernet.generate_key().decode()
    settings.OPIEKUN_SEALING_KEYS = [old]
    token = secretbox.seal({"api_key": "ck_123"})
    assert "ck_123" not in token
    settings.OPIEKUN_SEALING_KEYS = [Fernet.generate_key().decode(), old]
    assert secretbox.unseal(token) == {"api_key": "ck_123"}


def test_a_value_no_key_opens_is_refused(settings):
    token = secretbox.seal({"api_key": "ck_123"})
    settings.OPIEKUN_SEALING_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(secretbox.Unsealable):
        secretbox.unseal(token)
    with pytest.raises(secretbox.Unsealable):
        secretbox.unseal(token[:-4] + "AAAA")
